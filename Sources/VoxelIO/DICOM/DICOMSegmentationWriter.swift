import CDCMTK
import Foundation
import VoxelCore
import VoxelSupport

/// How `DICOMSegmentation.write` labels and fills a SEG.
public struct DICOMSegmentationOptions: Sendable {
    /// SegmentAlgorithmType: "AUTOMATIC", "SEMIAUTOMATIC" or "MANUAL".
    public var algorithmType = "AUTOMATIC"
    /// SegmentAlgorithmName (written unless MANUAL), e.g. the model's name.
    public var algorithmName = "VoxelFlow"
    /// SeriesDescription of the SEG series.
    public var seriesDescription = "Segmentation"
    /// SeriesNumber of the SEG series.
    public var seriesNumber = 300
    /// Write a frame for every slice of every segment, empty or not (some viewers place a SEG better with
    /// them); by default frames without any voxel of their segment are left out.
    public var keepEmptyFrames = false
    /// Default options.
    public init() {}
}

/// Writes label maps as DICOM Segmentation objects (BINARY, PS3.3 A.51) that a radiologist's viewer opens on
/// the source series: one segment per label (name, colour and SNOMED CT codes from a `LabelTable`), one
/// frame per slice holding a segment, each frame referencing the source image it lies on; the source's
/// patient, study and frame of reference; the shared orientation and spacing and each frame's position, as
/// decimal strings of at most 16 characters.
public enum DICOMSegmentation {
    /// The SOP class of a Segmentation.
    public static let sopClassUID = DICOMSOPClass.segmentation

    /// Writes `labels`, which must lie on the grid of `reference` (the stack it segments), to `path`.
    /// Labels absent from `table` get "Label N" with default codes.
    /// - Returns: the number of frames written.
    /// - Throws: `DICOMSeriesError` when the label map is not on the series' grid or has no label;
    ///   `DICOMError` when the SEG cannot be built or written.
    @discardableResult
    public static func write(_ labels: LabelMap, reference stack: DICOMStack, table: LabelTable? = nil, to path: String,
                             options: DICOMSegmentationOptions = DICOMSegmentationOptions()) throws -> Int {
        let grid = stack.geometry()
        let first = stack.slices[0]
        guard grid.size == labels.geometry.size, grid.affine.maxAbsDifference(to: labels.geometry.affine) < 1e-3 else {
            throw DICOMSeriesError(path: first.path, reason: "the label map's grid (\(describe(labels.geometry))) is not the series' grid (\(describe(grid))); resample it onto the series first")
        }
        guard stack.isRegular, first.orientation != nil, first.position != nil, stack.slices.allSatisfy({ $0.position != nil }) else {
            throw DICOMSeriesError(path: first.path, reason: "a segmentation needs a regular series with positions and orientation (\(stack.irregularity ?? "no geometry"))")
        }
        let present = labels.labelsPresent().filter { $0 > 0 }
        guard !present.isEmpty else { throw DICOMSeriesError(path: path, reason: "the label map holds no label (all voxels are 0); nothing to write") }
        guard present.allSatisfy({ $0 <= 65535 }) else { throw DICOMSeriesError(path: path, reason: "label values above 65535 cannot be DICOM segments") }

        var err = [CChar](repeating: 0, count: 512)
        guard let seg = vf_seg_create(first.path, &err, err.count) else {
            throw DICOMError(path: first.path, reason: DICOMFile.message(err))
        }
        defer { vf_seg_free(seg) }
        vf_seg_set_string(seg, 0x0008, 0x103E, options.seriesDescription)
        vf_seg_set_string(seg, 0x0020, 0x0011, String(options.seriesNumber))
        vf_seg_set_string(seg, 0x0018, 0x1020, "voxelflow")

        // Segments, numbered 1…n in label order.
        let table = table ?? LabelTable.generic(present)
        for (n, value) in present.enumerated() {
            let info = table[value] ?? LabelInfo(value: value, name: "Label \(value)")
            let lab = info.cieLab.map { UInt16(clamping: $0) }
            let region = info.region
            guard vf_seg_add_segment(seg, UInt16(n + 1), String(info.name.prefix(64)), options.algorithmType, options.algorithmName,
                                     info.category.scheme, info.category.value, String(info.category.meaning.prefix(64)),
                                     info.type.scheme, info.type.value, String(info.type.meaning.prefix(64)),
                                     region?.scheme ?? "", region?.value ?? "", region?.meaning ?? "",
                                     lab[0], lab[1], lab[2]) == 0 else {
                throw DICOMError(path: path, reason: "cannot add segment \(value) (\(info.name))")
            }
        }
        // Shared geometry.
        let h = first.header
        let orientation = (first.orientation ?? []).map(DecimalString.format).joined(separator: "\\")
        let spacing = (first.pixelSpacing ?? [1, 1]).map(DecimalString.format).joined(separator: "\\")
        let between = stack.sliceSpacing.map(DecimalString.format) ?? ""
        let thickness = (h.sliceThickness ?? stack.sliceSpacing).map(DecimalString.format) ?? ""
        guard vf_seg_set_geometry(seg, UInt16(h.rows), UInt16(h.columns), orientation, spacing, thickness, between) == 0 else {
            throw DICOMError(path: path, reason: "cannot set the frame geometry")
        }
        // References to every source instance.
        var seen = Set<String>()
        for s in stack.slices where seen.insert(s.header.sopInstanceUID).inserted {
            vf_seg_add_referenced_instance(seg, h.seriesInstanceUID, s.header.sopClassUID, s.header.sopInstanceUID)
        }
        // Frames: for each segment, each slice holding it (or every slice), with its bits. One pass finds
        // which labels each slice holds; each frame is then packed in one pass over its slice.
        let nx = grid.size.x, ny = grid.size.y, nz = grid.size.z, frameSize = nx * ny
        let values = labels.volume.voxels
        var label = [UInt16](repeating: 0, count: values.count)
        for i in 0..<values.count { label[i] = UInt16(clamping: Int(values.value(at: i))) }
        var segmentOf = [Int](repeating: 0, count: 65536)
        for (n, value) in present.enumerated() { segmentOf[value] = n + 1 }
        var holds = [Bool](repeating: false, count: (present.count + 1) * nz)  // [segment][slice]
        for k in 0..<nz {
            for i in (k * frameSize)..<((k + 1) * frameSize) where label[i] != 0 { holds[segmentOf[Int(label[i])] * nz + k] = true }
        }
        var frameList: [(segment: Int, value: UInt16, slice: Int)] = []
        for (n, value) in present.enumerated() {
            for k in 0..<nz where holds[(n + 1) * nz + k] || options.keepEmptyFrames { frameList.append((n + 1, UInt16(value), k)) }
        }
        var bytes = [UInt8](repeating: 0, count: (frameList.count * frameSize + 7) / 8)
        for (f, frame) in frameList.enumerated() {
            let slice = stack.slices[frame.slice]
            guard let p = slice.position else { continue }
            let position = [p.x, p.y, p.z].map(DecimalString.format).joined(separator: "\\")
            let sourceFrame = slice.header.numberOfFrames > 1 ? Int32(slice.frame + 1) : 0
            guard vf_seg_add_frame(seg, UInt16(frame.segment), position, slice.header.sopClassUID, slice.header.sopInstanceUID,
                                   sourceFrame, UInt32(frame.slice + 1)) == 0 else {
                throw DICOMError(path: path, reason: "cannot add frame \(f + 1)")
            }
            var bit = f * frameSize
            let base = frame.slice * frameSize
            for i in 0..<frameSize {
                if label[base + i] == frame.value { bytes[bit >> 3] |= UInt8(1) << UInt8(bit & 7) }
                bit += 1
            }
        }
        let frames = frameList.count
        let temporary = FileIO.temporaryName(for: path)
        let status = bytes.withUnsafeBufferPointer { buffer in
            vf_seg_write(seg, temporary, buffer.baseAddress, buffer.count, &err, err.count)
        }
        guard status == 0 else {
            unlink(temporary)
            throw DICOMError(path: path, reason: "cannot write the segmentation: \(DICOMFile.message(err))")
        }
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw FileIOError(path: path, operation: .rename, reason: why)
        }
        return frames
    }

    static func describe(_ g: Geometry) -> String {
        let s = g.spacing, o = g.origin
        return "\(g.size.x)×\(g.size.y)×\(g.size.z) voxels of \(DecimalString.format(s.x))×\(DecimalString.format(s.y))×\(DecimalString.format(s.z)) mm at (\(DecimalString.format(o.x)), \(DecimalString.format(o.y)), \(DecimalString.format(o.z)))"
    }
}

/// DICOM decimal strings (DS): at most 16 characters (PS3.5 6.2), as many significant digits as fit.
/// Planning systems reject longer values, a known failure of other writers.
public enum DecimalString {
    /// `value` in at most 16 characters, with the most significant digits that fit ("0" for ±0).
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == 0 { return "0" }
        for digits in stride(from: 16, through: 1, by: -1) {
            var s = String(format: "%.\(digits)g", value)
            if s.contains("e") {
                // Exponent form: drop a '+' and leading zeros of the exponent to save characters.
                s = s.replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e").replacingOccurrences(of: "e-0", with: "e-")
            }
            if s.count <= 16 { return s }
        }
        return "0"
    }
}
