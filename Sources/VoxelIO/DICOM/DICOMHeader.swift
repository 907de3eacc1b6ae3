import CDCMTK

/// Header attributes of one DICOM file, read with DCMTK without loading the pixel data.
///
/// Identifiers (UIDs) are not PHI by themselves but patient names and IDs are never read here.
public struct DICOMHeader: Sendable, Equatable, Codable {
    /// TransferSyntaxUID (0002,0010), or the syntax DCMTK detected when the file has no meta header.
    public var transferSyntaxUID: String
    /// DCMTK's name for the transfer syntax ("Little Endian Explicit", "JPEG 2000 (Lossless only)", …).
    public var transferSyntaxName: String
    /// SOPClassUID (0008,0016).
    public var sopClassUID: String
    /// SOPInstanceUID (0008,0018).
    public var sopInstanceUID: String
    /// StudyInstanceUID (0020,000D).
    public var studyInstanceUID: String
    /// SeriesInstanceUID (0020,000E).
    public var seriesInstanceUID: String
    /// Modality (0008,0060): "CT", "MR", "PT", …
    public var modality: String
    /// SeriesDescription (0008,103E).
    public var seriesDescription: String
    /// SeriesNumber (0020,0011), nil when absent.
    public var seriesNumber: Int?
    /// InstanceNumber (0020,0013), nil when absent. Never used to order slices.
    public var instanceNumber: Int?
    /// Rows (0028,0010): pixels per column of one frame.
    public var rows: Int
    /// Columns (0028,0011): pixels per row of one frame.
    public var columns: Int
    /// NumberOfFrames (0028,0008); 1 when absent.
    public var numberOfFrames: Int
    /// BitsAllocated (0028,0100).
    public var bitsAllocated: Int
    /// BitsStored (0028,0101).
    public var bitsStored: Int
    /// PixelRepresentation (0028,0103): 0 unsigned, 1 two's complement.
    public var pixelRepresentation: Int
    /// SamplesPerPixel (0028,0002); 1 when absent.
    public var samplesPerPixel: Int
    /// PhotometricInterpretation (0028,0004): "MONOCHROME2", "RGB", …
    public var photometricInterpretation: String
    /// ImagePositionPatient (0020,0032): LPS mm of the first transmitted pixel's centre; nil when absent.
    public var imagePosition: [Double]?
    /// ImageOrientationPatient (0020,0037): row direction cosines then column direction cosines; nil when absent.
    public var imageOrientation: [Double]?
    /// PixelSpacing (0028,0030): distance between rows, then between columns, in mm; nil when absent.
    public var pixelSpacing: [Double]?
    /// SliceThickness (0018,0050) in mm; nil when absent or empty.
    public var sliceThickness: Double?
    /// RescaleSlope (0028,1053); nil when absent, which means 1.
    public var rescaleSlope: Double?
    /// RescaleIntercept (0028,1052); nil when absent, which means 0.
    public var rescaleIntercept: Double?
    /// PatientID (0010,0020). Protected health information: never logged unless the user asks.
    public var patientID: String
    /// StudyDate (0008,0020), YYYYMMDD.
    public var studyDate: String
    /// StudyDescription (0008,1030).
    public var studyDescription: String
    /// ImageType (0008,0008), values joined by backslashes ("ORIGINAL\\PRIMARY\\AXIAL").
    public var imageType: String
    /// ProtocolName (0018,1030); empty when absent.
    public var protocolName: String
    /// BodyPartExamined (0018,0015), e.g. "HEAD"; empty when absent.
    public var bodyPartExamined: String
    /// RescaleType (0028,1054), e.g. "HU"; empty when absent.
    public var rescaleType: String
    /// EchoNumbers (0018,0086); nil when absent.
    public var echoNumber: Int?
    /// TemporalPositionIdentifier (0020,0100); nil when absent.
    public var temporalPosition: Int?
    /// AcquisitionNumber (0020,0012); nil when absent.
    public var acquisitionNumber: Int?
    /// SpacingBetweenSlices (0018,0088) in mm; nil when absent.
    public var spacingBetweenSlices: Double?
    /// GantryDetectorTilt (0018,1120) in degrees; nil when absent.
    public var gantryTilt: Double?
    /// Siemens MOSAIC: NumberOfImagesInMosaic from the CSA image header (0 when absent).
    public var mosaicImages: Int
    /// Siemens CSA SliceNormalVector (the direction tiles are stacked along), nil when absent.
    public var csaSliceNormal: [Double]?
    /// True when ImageType says MOSAIC and the CSA header gives more than one tile.
    public var isMosaic: Bool { mosaicImages > 1 && imageType.uppercased().contains("MOSAIC") }
    /// PET quantitation attributes (see `PETQuantitation`).
    public var pet: PETAttributes
    /// True when the file has the DICM preamble and a file meta header.
    public var hasMetaHeader: Bool
    /// True when Rows, Columns and BitsAllocated are present (the file holds an image).
    public var hasPixelAttributes: Bool
    /// True when a UID or the PatientID is longer than 256 characters (DICOM allows 64). Such a value is
    /// not kept whole, so the file is set aside rather than risk two series or patients becoming one.
    public var identifierTooLong: Bool
    /// FrameOfReferenceUID (0020,0052); empty when absent. Segmentations and contours are placed by it.
    public var frameOfReferenceUID: String = ""
    /// RepetitionTime (0018,0080) in ms; nil when absent. The time step of MOSAIC time series.
    public var repetitionTime: Double?
    /// Diffusion b-value (s/mm²): DiffusionBValue (0018,9087), else the Siemens CSA B_value; nil when absent.
    public var diffusionBValue: Double?
    /// Diffusion gradient direction (patient LPS): DiffusionGradientOrientation (0018,9089), else the
    /// Siemens CSA DiffusionGradientDirection; nil when absent.
    public var diffusionGradient: [Double]?

    /// Reads the header of the DICOM file at `path`, stopping before the pixel data.
    /// - Throws: `DICOMError` naming the file and DCMTK's reason.
    public static func read(_ path: String) throws -> DICOMHeader {
        var s = vf_dicom_summary()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_dicom_read_summary(path, &s, &err, err.count) == 0 else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        return DICOMHeader(s)
    }

    /// The SOP Class UID of the DICOM file at `path`, reading only the first elements of its data set (cheap
    /// even for multi-frame files with thousands of per-frame items); nil when the file is not DICOM.
    public static func sopClassUID(of path: String) -> String? {
        var uid = [CChar](repeating: 0, count: 72)
        guard vf_dicom_sop_class(path, &uid, uid.count) == 0 else { return nil }
        return String(decoding: uid.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The header of a file already loaded.
    static func read(_ file: DICOMFile) throws -> DICOMHeader {
        var s = vf_dicom_summary()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_dicom_file_summary(file.handle, &s, &err, err.count) == 0 else {
            throw DICOMError(path: file.path, reason: DICOMFile.message(err))
        }
        return DICOMHeader(s)
    }
}

extension DICOMHeader {
    init(_ s: vf_dicom_summary) {
        func str<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        func doubles<T>(_ value: T, _ n: Int) -> [Double] {
            withUnsafeBytes(of: value) { Array($0.bindMemory(to: Double.self).prefix(n)) }
        }
        self.init(
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
            rescaleIntercept: s.has_rescale_intercept != 0 ? s.rescale_intercept : nil,
            patientID: str(s.patient_id), studyDate: str(s.study_date), studyDescription: str(s.study_description),
            imageType: str(s.image_type), protocolName: str(s.protocol_name), bodyPartExamined: str(s.body_part_examined),
            rescaleType: str(s.rescale_type),
            echoNumber: s.has_echo_number != 0 ? Int(s.echo_number) : nil,
            temporalPosition: s.has_temporal_position != 0 ? Int(s.temporal_position) : nil,
            acquisitionNumber: s.has_acquisition_number != 0 ? Int(s.acquisition_number) : nil,
            spacingBetweenSlices: s.has_spacing_between_slices != 0 ? s.spacing_between_slices : nil,
            gantryTilt: s.has_gantry_tilt != 0 ? s.gantry_tilt : nil,
            mosaicImages: Int(s.mosaic_images),
            csaSliceNormal: s.has_csa_slice_normal != 0 ? doubles(s.csa_slice_normal, 3) : nil,
            pet: PETAttributes(
                units: str(s.units), patientWeight: s.has_patient_weight != 0 ? s.patient_weight : nil,
                seriesDate: str(s.series_date), seriesTime: str(s.series_time), decayCorrection: str(s.decay_correction),
                radionuclideTotalDose: s.has_radionuclide_total_dose != 0 ? s.radionuclide_total_dose : nil,
                radionuclideHalfLife: s.has_radionuclide_half_life != 0 ? s.radionuclide_half_life : nil,
                radiopharmaceuticalStartTime: str(s.radiopharmaceutical_start_time),
                radiopharmaceuticalStartDateTime: str(s.radiopharmaceutical_start_datetime)),
            hasMetaHeader: s.has_meta_header != 0, hasPixelAttributes: s.has_pixel_attributes != 0,
            identifierTooLong: s.identifier_too_long != 0)
        frameOfReferenceUID = str(s.frame_of_reference_uid)
        repetitionTime = s.has_repetition_time != 0 ? s.repetition_time : nil
        diffusionBValue = s.has_diffusion_b_value != 0 ? s.diffusion_b_value : nil
        diffusionGradient = s.has_diffusion_gradient != 0 ? doubles(s.diffusion_gradient, 3) : nil
    }
}

/// A DICOM file that could not be read, with DCMTK's reason.
public struct DICOMError: Error, Equatable, CustomStringConvertible {
    /// The file concerned.
    public let path: String
    /// DCMTK's message.
    public let reason: String
    /// Creates an error for `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): cannot read DICOM: \(reason)" }
}
