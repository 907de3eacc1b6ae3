import CDCMTK
import Foundation
import VoxelCore
import VoxelSupport

/// The kind of DICOM SEG to write.
public enum DICOMSegmentationType: String, Sendable, CaseIterable {
    /// One 1-bit frame per segment and slice (Segmentation Storage).
    case binary = "BINARY"
    /// One 8-bit probability frame per segment and slice, 0…255 for 0…1 (Segmentation Storage).
    case fractional = "FRACTIONAL"
    /// One frame per slice whose pixels are segment numbers (Label Map Segmentation Storage, 2024).
    case labelMap = "LABELMAP"
}

/// How `DICOMSegmentation.write` labels and fills a SEG.
public struct DICOMSegmentationOptions: Sendable {
    /// BINARY or LABELMAP for `write`; `writeFractional` always writes FRACTIONAL.
    public var type = DICOMSegmentationType.binary
    /// SegmentAlgorithmType: "AUTOMATIC", "SEMIAUTOMATIC" or "MANUAL".
    public var algorithmType = "AUTOMATIC"
    /// SegmentAlgorithmName (written unless MANUAL), e.g. the model's name.
    public var algorithmName = "VoxelFlow"
    /// SeriesDescription of the SEG series.
    public var seriesDescription = "Segmentation"
    /// SeriesNumber of the SEG series.
    public var seriesNumber = 300
    /// Write a frame for every slice of every segment, empty or not (some viewers place a SEG better with
    /// them); by default frames without any voxel of their segment (in a LABELMAP, slices without any
    /// label) are left out.
    public var keepEmptyFrames = false
    /// Default options.
    public init() {}
}

/// Writes label maps as DICOM Segmentation objects (PS3.3 A.51) that a radiologist's viewer opens on the
/// source series: BINARY (one segment per label; one frame per slice holding a segment, each frame
/// referencing the source image it lies on), LABELMAP (one frame per slice holding segment numbers) or
/// FRACTIONAL (probabilities); segment names, colours and SNOMED CT codes from a `LabelTable`; the source's
/// patient, study and frame of reference; the shared orientation and spacing and each frame's position,
/// as decimal strings of at most 16 characters.
public enum DICOMSegmentation {
    /// The SOP class of a Segmentation.
    public static let sopClassUID = DICOMSOPClass.segmentation

    /// Writes `labels`, which must lie on the grid of `reference` (the stack it segments), to `path` as a
    /// BINARY or LABELMAP SEG (`options.type`). Labels absent from `table` get "Label N" with default codes.
    /// Segments are numbered 1…n in increasing label value.
    /// - Returns: the number of frames written.
    /// - Throws: `DICOMSeriesError` when the label map is not on the series' grid or has no label;
    ///   `DICOMError` when the SEG cannot be built or written.
    @discardableResult
    public static func write(_ labels: LabelMap, reference stack: DICOMStack, table: LabelTable? = nil, to path: String,
                             options: DICOMSegmentationOptions = DICOMSegmentationOptions()) throws -> Int {
        try checkGrid(labels.geometry, stack: stack)
        guard options.type != .fractional else {
            throw DICOMSeriesError(path: path, reason: "a FRACTIONAL SEG is written from probabilities (writeFractional), not from a label map")
        }
        let present = labels.labelsPresent().filter { $0 > 0 }
        guard !present.isEmpty else { throw DICOMSeriesError(path: path, reason: "the label map holds no label (all voxels are 0); nothing to write") }
        guard present.allSatisfy({ $0 <= 65535 }) else { throw DICOMSeriesError(path: path, reason: "label values above 65535 cannot be DICOM segments") }
        let labelMap = options.type == .labelMap
        let seg = try begin(stack: stack, type: options.type, bits: labelMap ? (present.count > 255 ? 16 : 8) : 1,
                            table: table ?? LabelTable.generic(present), values: present, options: options, path: path)
        defer { vf_seg_free(seg) }

        let grid = stack.geometry()
        let shape = SegmentationShape(slices: grid.size.z, frameSize: grid.size.x * grid.size.y)
        var segmentOf = [UInt16](repeating: 0, count: 65536)
        for (n, value) in present.enumerated() { segmentOf[value] = UInt16(n + 1) }
        func encode<T: FixedWidthInteger & UnsignedInteger>(_ label: UnsafeBufferPointer<T>) throws -> Int {
            labelMap ? try encodeLabelMap(seg, label, present, segmentOf, shape, stack, options, path)
                     : try encodeBinary(seg, label, present, segmentOf, shape, stack, options, path)
        }
        // 8- and 16-bit label maps are read where they lie; other integer types are narrowed once.
        switch labels.volume.voxels {
        case .uint8(let v): return try v.withUnsafeBufferPointer(encode)
        case .uint16(let v): return try v.withUnsafeBufferPointer(encode)
        case let values:
            let narrowed = (0..<values.count).map { UInt16(clamping: Int(values.value(at: $0))) }
            return try narrowed.withUnsafeBufferPointer(encode)
        }
    }

    /// Slices of the series and pixels per slice.
    struct SegmentationShape {
        let slices: Int
        let frameSize: Int
    }

    /// LABELMAP: one frame per slice holding a label (every slice with keepEmptyFrames); pixels are segment numbers.
    static func encodeLabelMap<T: FixedWidthInteger & UnsignedInteger>(
        _ seg: OpaquePointer, _ label: UnsafeBufferPointer<T>, _ present: [Int], _ segmentOf: [UInt16], _ shape: SegmentationShape,
        _ stack: DICOMStack, _ options: DICOMSegmentationOptions, _ path: String) throws -> Int {
        let frameSize = shape.frameSize
        var slices: [Int] = []
        for k in 0..<shape.slices where options.keepEmptyFrames || label[(k * frameSize)..<((k + 1) * frameSize)].contains(where: { $0 != 0 }) {
            try addFrame(seg, segment: 0, slice: k, stack: stack, path: path)
            slices.append(k)
        }
        let wide = present.count > 255
        return try finish(seg, byteCount: slices.count * frameSize * (wide ? 2 : 1), frames: slices.count, path: path) { bytes in
            segmentOf.withUnsafeBufferPointer { number in
                if wide {
                    let words = UnsafeMutableRawPointer(bytes.baseAddress!).assumingMemoryBound(to: UInt16.self)
                    for (f, k) in slices.enumerated() {
                        let source = k * frameSize, target = f * frameSize
                        for i in 0..<frameSize { words[target + i] = number[Int(label[source + i])] }
                    }
                } else {
                    for (f, k) in slices.enumerated() {
                        let source = k * frameSize, target = f * frameSize
                        for i in 0..<frameSize { bytes[target + i] = UInt8(truncatingIfNeeded: number[Int(label[source + i])]) }
                    }
                }
            }
        }
    }

    /// BINARY: for each segment, each slice holding it (or every slice). One pass finds which labels each
    /// slice holds; each frame is then packed in one pass over its slice.
    static func encodeBinary<T: FixedWidthInteger & UnsignedInteger>(
        _ seg: OpaquePointer, _ label: UnsafeBufferPointer<T>, _ present: [Int], _ segmentOf: [UInt16], _ shape: SegmentationShape,
        _ stack: DICOMStack, _ options: DICOMSegmentationOptions, _ path: String) throws -> Int {
        let nz = shape.slices, frameSize = shape.frameSize
        var holds = [Bool](repeating: false, count: (present.count + 1) * nz)  // [segment][slice]
        for k in 0..<nz {
            for i in (k * frameSize)..<((k + 1) * frameSize) where label[i] != 0 { holds[Int(segmentOf[Int(label[i])]) * nz + k] = true }
        }
        var frameList: [(value: T, slice: Int)] = []
        for (n, value) in present.enumerated() {
            for k in 0..<nz where holds[(n + 1) * nz + k] || options.keepEmptyFrames {
                try addFrame(seg, segment: n + 1, slice: k, stack: stack, path: path)
                frameList.append((T(value), k))
            }
        }
        return try finish(seg, byteCount: (frameList.count * frameSize + 7) / 8, frames: frameList.count, path: path) { bytes in
            for (f, frame) in frameList.enumerated() {
                var bit = f * frameSize
                let base = frame.slice * frameSize
                for i in 0..<frameSize {
                    if label[base + i] == frame.value { bytes[bit >> 3] |= UInt8(1) << UInt8(bit & 7) }
                    bit += 1
                }
            }
        }
    }

    /// Writes probabilities as a FRACTIONAL SEG: `probabilities` lies on the grid of `reference`, one time
    /// point (channel) per segment — channel c is label c + 1, named from `table` — with values from 0 to 1
    /// (clamped), stored as 0…255. Frames whose probabilities are all 0 are left out unless
    /// `options.keepEmptyFrames`.
    /// - Returns: the number of frames written.
    @discardableResult
    public static func writeFractional(_ probabilities: Volume, reference stack: DICOMStack, table: LabelTable? = nil, to path: String,
                                       options: DICOMSegmentationOptions = DICOMSegmentationOptions()) throws -> Int {
        try checkGrid(probabilities.geometry, stack: stack)
        let channels = probabilities.timePoints
        let values = Array(1...channels)
        let seg = try begin(stack: stack, type: .fractional, bits: 8, table: table ?? LabelTable.generic(values), values: values,
                            options: options, path: path)
        defer { vf_seg_free(seg) }
        let grid = stack.geometry()
        let nz = grid.size.z, frameSize = grid.size.x * grid.size.y, volumeSize = frameSize * nz
        let floats = probabilities.physicalFloats()
        var bytes: [UInt8] = []
        var frames = 0
        for c in 0..<channels {
            for k in 0..<nz {
                let base = c * volumeSize + k * frameSize
                var frame = [UInt8](repeating: 0, count: frameSize)
                var any = false
                for i in 0..<frameSize {
                    let p = floats[base + i]
                    let q = p.isFinite ? UInt8((min(1, max(0, p)) * 255).rounded()) : 0
                    frame[i] = q
                    any = any || q != 0
                }
                guard any || options.keepEmptyFrames else { continue }
                try addFrame(seg, segment: c + 1, slice: k, stack: stack, path: path)
                bytes.append(contentsOf: frame)
                frames += 1
            }
        }
        return try finish(seg, bytes: bytes, frames: frames, path: path)
    }

    /// Refuses a grid other than the series'.
    static func checkGrid(_ geometry: Geometry, stack: DICOMStack) throws {
        let grid = stack.geometry()
        let first = stack.slices[0]
        guard grid.size == geometry.size, grid.affine.maxAbsDifference(to: geometry.affine) < 1e-3 else {
            throw DICOMSeriesError(path: first.path, reason: "the label map's grid (\(describe(geometry))) is not the series' grid (\(describe(grid))); resample it onto the series first")
        }
        guard stack.isRegular, first.orientation != nil, first.position != nil, stack.slices.allSatisfy({ $0.position != nil }) else {
            throw DICOMSeriesError(path: first.path, reason: "a segmentation needs a regular series with positions and orientation (\(stack.irregularity ?? "no geometry"))")
        }
        // A SEG names its study and every source image by UID; series stripped of them (some anonymisers
        // blank UIDs) cannot be referenced, and viewers would not match the SEG to the images.
        if let bare = stack.slices.first(where: { $0.header.sopInstanceUID.isEmpty || $0.header.sopClassUID.isEmpty }) {
            throw DICOMSeriesError(path: bare.path, reason: "the source image has no \(bare.header.sopInstanceUID.isEmpty ? "SOPInstanceUID" : "SOPClassUID") (removed by anonymisation?), so a DICOM SEG cannot reference it; write a NIfTI label map instead")
        }
        if first.header.studyInstanceUID.isEmpty {
            throw DICOMSeriesError(path: first.path, reason: "the source series has no StudyInstanceUID (removed by anonymisation?), so a DICOM SEG cannot join its study; write a NIfTI label map instead")
        }
    }

    /// A SEG handle with its segments (label `values`, numbered 1…n), shared geometry and references.
    static func begin(stack: DICOMStack, type: DICOMSegmentationType, bits: UInt16, table: LabelTable, values: [Int],
                      options: DICOMSegmentationOptions, path: String) throws -> OpaquePointer {
        let first = stack.slices[0]
        var err = [CChar](repeating: 0, count: 512)
        guard let seg = vf_seg_create(first.path, type.rawValue, bits, &err, err.count) else {
            throw DICOMError(path: first.path, reason: DICOMFile.message(err))
        }
        do {
            vf_seg_set_string(seg, 0x0008, 0x103E, options.seriesDescription)
            vf_seg_set_string(seg, 0x0020, 0x0011, String(options.seriesNumber))
            vf_seg_set_string(seg, 0x0018, 0x1020, "voxelflow")
            if type == .labelMap {
                // Segment 0 is the background of a label map, as highdicom and dcmqi write it.
                let bg = CodedConcept(scheme: "DCM", value: "125040", meaning: "Background")
                let lab = LabelInfo(value: 1, name: "Background", color: [0, 0, 0]).cieLab.map { UInt16(clamping: $0) }
                guard vf_seg_add_segment(seg, 0, "Background", options.algorithmType, "", bg.scheme, bg.value, bg.meaning,
                                         bg.scheme, bg.value, bg.meaning, "", "", "", lab[0], lab[1], lab[2]) == 0 else {
                    throw DICOMError(path: path, reason: "cannot add the background segment")
                }
            }
            for (n, value) in values.enumerated() {
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
            let h = first.header
            let orientation = (first.orientation ?? []).map(DecimalString.format).joined(separator: "\\")
            let spacing = (first.pixelSpacing ?? [1, 1]).map(DecimalString.format).joined(separator: "\\")
            let between = stack.sliceSpacing.map(DecimalString.format) ?? ""
            let thickness = (h.sliceThickness ?? stack.sliceSpacing).map(DecimalString.format) ?? ""
            guard vf_seg_set_geometry(seg, UInt16(h.rows), UInt16(h.columns), orientation, spacing, thickness, between) == 0 else {
                throw DICOMError(path: path, reason: "cannot set the frame geometry")
            }
            var seen = Set<String>()
            for s in stack.slices where seen.insert(s.header.sopInstanceUID).inserted {
                vf_seg_add_referenced_instance(seg, h.seriesInstanceUID, s.header.sopClassUID, s.header.sopInstanceUID)
            }
        } catch {
            vf_seg_free(seg)
            throw error
        }
        return seg
    }

    /// Adds the frame of slice `slice` (0-based) showing `segment` (0 for a label map's frames).
    static func addFrame(_ seg: OpaquePointer, segment: Int, slice k: Int, stack: DICOMStack, path: String) throws {
        let slice = stack.slices[k]
        guard let p = slice.position else { return }
        let position = [p.x, p.y, p.z].map(DecimalString.format).joined(separator: "\\")
        let sourceFrame = slice.header.numberOfFrames > 1 ? Int32(slice.frame + 1) : 0
        guard vf_seg_add_frame(seg, UInt16(segment), position, slice.header.sopClassUID, slice.header.sopInstanceUID,
                               sourceFrame, UInt32(k + 1)) == 0 else {
            throw DICOMError(path: path, reason: "cannot add the frame of slice \(k + 1)")
        }
    }

    /// Writes the SEG atomically with its pixel data.
    static func finish(_ seg: OpaquePointer, bytes: [UInt8], frames: Int, path: String) throws -> Int {
        try finish(seg, byteCount: bytes.count, frames: frames, path: path) { target in
            _ = target.initialize(from: bytes)
        }
    }

    /// Writes the SEG atomically with pixel data that `fill` writes in place into `byteCount` zeroed bytes
    /// (no copy of the frames is made).
    static func finish(_ seg: OpaquePointer, byteCount: Int, frames: Int, path: String,
                       fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) throws -> Int {
        guard let buffer = vf_seg_pixels(seg, byteCount) else {
            throw DICOMError(path: path, reason: "cannot allocate \(byteCount) bytes of pixel data")
        }
        fill(UnsafeMutableBufferPointer(start: buffer, count: byteCount))
        try FileIO.writeThenRename(path, what: "segmentation") { temporary, message in
            vf_seg_write(seg, temporary, nil, 0, &message, message.count)
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
