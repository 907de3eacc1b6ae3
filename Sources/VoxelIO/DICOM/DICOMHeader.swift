import CDCMTK

/// Header attributes of one DICOM file, read with DCMTK without loading the pixel data.
///
/// Identifiers (UIDs) are not PHI by themselves but patient names and IDs are never read here.
public struct DICOMHeader: Sendable, Equatable, Codable {
    public var transferSyntaxUID: String
    public var transferSyntaxName: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var modality: String
    public var seriesDescription: String
    public var seriesNumber: Int?
    public var instanceNumber: Int?
    /// Rows × Columns of one frame.
    public var rows: Int
    public var columns: Int
    public var numberOfFrames: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var pixelRepresentation: Int
    public var samplesPerPixel: Int
    public var photometricInterpretation: String
    /// ImagePositionPatient (LPS mm), ImageOrientationPatient (row then column cosines), PixelSpacing (row, column mm).
    public var imagePosition: [Double]?
    public var imageOrientation: [Double]?
    public var pixelSpacing: [Double]?
    public var sliceThickness: Double?
    /// RescaleSlope/Intercept; nil when the tag is absent (which means 1 and 0).
    public var rescaleSlope: Double?
    public var rescaleIntercept: Double?

    /// Reads the header of the DICOM file at `path`.
    /// - Throws: `DICOMError` naming the file and DCMTK's reason.
    public static func read(_ path: String) throws -> DICOMHeader {
        var s = vf_dicom_summary()
        var err = [CChar](repeating: 0, count: 512)
        let status = vf_dicom_read_summary(path, &s, &err, err.count)
        guard status == 0 else {
            throw DICOMError(path: path, reason: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        func str<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        func doubles<T>(_ value: T, _ n: Int) -> [Double] {
            withUnsafeBytes(of: value) { Array($0.bindMemory(to: Double.self).prefix(n)) }
        }
        return DICOMHeader(
            transferSyntaxUID: str(s.transfer_syntax_uid), transferSyntaxName: str(s.transfer_syntax_name),
            sopClassUID: str(s.sop_class_uid), sopInstanceUID: str(s.sop_instance_uid),
            studyInstanceUID: str(s.study_instance_uid), seriesInstanceUID: str(s.series_instance_uid),
            modality: str(s.modality), seriesDescription: str(s.series_description),
            seriesNumber: s.has_series_number != 0 ? Int(s.series_number) : nil,
            instanceNumber: s.has_instance_number != 0 ? Int(s.instance_number) : nil,
            rows: Int(s.rows), columns: Int(s.columns), numberOfFrames: Int(s.number_of_frames),
            bitsAllocated: Int(s.bits_allocated), bitsStored: Int(s.bits_stored),
            pixelRepresentation: Int(s.pixel_representation), samplesPerPixel: Int(s.samples_per_pixel),
            photometricInterpretation: str(s.photometric_interpretation),
            imagePosition: s.has_image_position != 0 ? doubles(s.image_position, 3) : nil,
            imageOrientation: s.has_image_orientation != 0 ? doubles(s.image_orientation, 6) : nil,
            pixelSpacing: s.has_pixel_spacing != 0 ? doubles(s.pixel_spacing, 2) : nil,
            sliceThickness: s.has_slice_thickness != 0 ? s.slice_thickness : nil,
            rescaleSlope: s.has_rescale_slope != 0 ? s.rescale_slope : nil,
            rescaleIntercept: s.has_rescale_intercept != 0 ? s.rescale_intercept : nil)
    }
}

/// A DICOM file that could not be read, with DCMTK's reason.
public struct DICOMError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): cannot read DICOM: \(reason)" }
}
