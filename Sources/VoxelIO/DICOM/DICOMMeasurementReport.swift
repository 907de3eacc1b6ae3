import CDCMTK
import Foundation
import VoxelCore

/// The measurements of one segment of a SEG, as a measurement report holds them.
public struct SegmentMeasurements: Sendable, Equatable {
    /// The segment number in the SEG.
    public var segment: Int
    /// The segment's label (SegmentLabel).
    public var label: String
    /// What the segment is (its segmented property type).
    public var finding: CodedConcept
    /// Voxels in the segment.
    public var voxels: Int
    /// Volume in cubic millimetres (voxels × voxel volume).
    public var volume: Double
    /// Mean, population standard deviation, minimum and maximum of the image inside the segment (HU for CT),
    /// nil when no image was measured.
    public var mean: Double?
    public var standardDeviation: Double?
    public var minimum: Double?
    public var maximum: Double?
}

/// DICOM Structured Reports of measurements on the segments of a DICOM SEG: an Enhanced SR holding the
/// TID 1500 Measurement Report, one TID 1411 Volumetric ROI Measurements group per segment (tracking
/// identifier = segment label, referenced segment, source series, finding = the segment's property type,
/// volume, and the image's mean, standard deviation, minimum and maximum inside it), as dcmqi's
/// `tid1500writer` and highdicom's `MeasurementReport` write them. PACS viewers list the measurements
/// beside the SEG; highdicom and dcmqi read them back.
public enum DICOMMeasurementReport {
    /// Measures the segments of the SEG at `seg` on the series `reference` it segments: volumes, and the
    /// intensities of `image` (the series' volume; nil measures volumes only).
    /// - Throws: what reading the SEG onto the series throws (`DICOMSeriesError`, `DICOMError`).
    public static func measure(seg: String, reference: DICOMStack, image: Volume?) throws -> [SegmentMeasurements] {
        let contents = try DICOMSegmentation.read(seg, reference: reference)
        let labels = contents.labels
        let g = labels.geometry
        let voxelVolume = g.spacing.x * g.spacing.y * g.spacing.z
        let values = image.map { $0.physicalFloats() }
        if let image, image.geometry.size != g.size {
            throw DICOMSeriesError(path: seg, reason: "the image to measure (\(image.geometry.size)) is not on the series' grid (\(g.size))")
        }
        // Segment numbers are at most 65535: per-segment sums in arrays indexed by number, one pass.
        let top = (contents.table.labels.map(\.value).max() ?? 0) + 1
        var n = [Int](repeating: 0, count: top), sum = [Double](repeating: 0, count: top), squares = sum
        var low = [Float](repeating: .infinity, count: top), high = [Float](repeating: -.infinity, count: top)
        let voxels = labels.volume.voxels
        for i in 0..<voxels.count {
            let label = Int(voxels.value(at: i))
            guard label > 0, label < top else { continue }
            n[label] += 1
            if let values {
                let v = values[i]
                sum[label] += Double(v)
                squares[label] += Double(v) * Double(v)
                low[label] = min(low[label], v)
                high[label] = max(high[label], v)
            }
        }
        return contents.table.labels.sorted { $0.value < $1.value }.compactMap { info in
            let k = info.value
            guard k > 0, k < top, n[k] > 0 else { return nil }
            var m = SegmentMeasurements(segment: k, label: info.name, finding: info.type, voxels: n[k], volume: Double(n[k]) * voxelVolume)
            if values != nil {
                let mean = sum[k] / Double(n[k])
                m.mean = mean
                m.standardDeviation = max(0, squares[k] / Double(n[k]) - mean * mean).squareRoot()
                m.minimum = Double(low[k])
                m.maximum = Double(high[k])
            }
            return m
        }
    }

    /// Writes at `path` (atomically) the measurement report of `measurements`, taken on the SEG at `seg`
    /// that segments the series `reference`: in the SEG's study, listing the SEG as evidence.
    /// - Throws: `DICOMSeriesError` when there is nothing to report; `DICOMError` when DCMTK cannot build or
    ///   write the report.
    public static func write(_ measurements: [SegmentMeasurements], seg: String, reference: DICOMStack, to path: String,
                             seriesDescription: String = "VoxelFlow measurements", device: String = "VoxelFlow") throws {
        guard !measurements.isEmpty else { throw DICOMSeriesError(path: path, reason: "no segment of \(seg) holds a voxel; nothing to report") }
        let measured = measurements.allSatisfy { $0.mean != nil }
        let kind: Int32 = measured ? (reference.header.modality == "CT" ? 1 : 2) : 0
        // C strings that live as long as the call.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ s: String) throws -> UnsafePointer<CChar> {
            guard let p = strdup(s) else { throw DICOMError(path: path, reason: "out of memory") }
            strings.append(p)
            return UnsafePointer(p)
        }
        func number(_ v: Double?) throws -> UnsafePointer<CChar> { try c(DecimalString.format(v ?? 0)) }
        let groups = try measurements.map { m in
            vf_sr_group(segment: UInt16(clamping: m.segment), tracking_id: try c(String(m.label.prefix(64))),
                        finding: vf_sr_code(scheme: try c(m.finding.scheme), value: try c(m.finding.value), meaning: try c(m.finding.meaning)),
                        volume: try number(m.volume), mean: try number(m.mean), standard_deviation: try number(m.standardDeviation),
                        minimum: try number(m.minimum), maximum: try number(m.maximum))
        }
        try FileIO.writeThenRename(path, what: "measurement report") { temporary, message in
            groups.withUnsafeBufferPointer {
                vf_sr_write(seg, reference.header.seriesInstanceUID, kind, $0.baseAddress, UInt32($0.count), seriesDescription, device,
                            temporary, &message, message.count)
            }
        }
    }
}
