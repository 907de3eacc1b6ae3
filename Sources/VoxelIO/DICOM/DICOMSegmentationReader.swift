import CDCMTK
import Foundation
import VoxelCore
import VoxelSupport

/// A DICOM SEG read back into a label map.
public struct DICOMSegmentationContents: Sendable {
    /// The label map: each voxel holds the number of the segment covering it (0 where none does).
    public var labels: LabelMap
    /// One entry per segment: value = segment number, with the SEG's label, colour and codes.
    public var table: LabelTable
    /// SegmentationType: BINARY, FRACTIONAL or LABELMAP.
    public var segmentationType: String
    /// The SEG's FrameOfReferenceUID.
    public var frameOfReferenceUID: String
    /// The SeriesInstanceUID the SEG says it segments (empty when it does not say).
    public var referencedSeriesUID: String
    /// Voxels covered by more than one segment (BINARY and FRACTIONAL segments may overlap; a label map
    /// holds one value per voxel, so the higher-numbered segment is kept there).
    public var overlappingVoxels: Int
    /// Number of frames read.
    public var frames: Int
}

extension DICOMSegmentation {
    /// The SeriesInstanceUID a SEG says it segments (its ReferencedSeriesSequence), or nil when `path` is not
    /// a SEG or does not say.
    public static func referencedSeriesUID(_ path: String) -> String? {
        guard isSegmentation(path), let file = try? DICOMFile(path: path, headerOnly: true) else { return nil }
        var info = vf_seg_info()
        var err = [CChar](repeating: 0, count: 256)
        guard vf_seg_read_info(file.handle, &info, &err, err.count) == 0 else { return nil }
        let uid = DICOMPixels.cString(info.referenced_series_uid)
        return uid.isEmpty ? nil : uid
    }

    /// Whether `path` is a DICOM file of a Segmentation SOP class (reads only the first elements).
    public static func isSegmentation(_ path: String) -> Bool {
        let uid = DICOMHeader.sopClassUID(of: path)
        return uid == DICOMSOPClass.segmentation || uid == DICOMSOPClass.labelMapSegmentation
    }

    /// Reads the SEG at `path` into a label map. With `reference` the map lies on that series' grid (the SEG
    /// must share its frame of reference, orientation and pixel spacing, and every frame must fall on one
    /// of its slices); without it, on the grid the SEG's frames span (their shared orientation and spacing,
    /// from the lowest to the highest frame position, the slice spacing from SpacingBetweenSlices or the
    /// smallest step between frames). FRACTIONAL segments cover the pixels whose value is at least half the
    /// MaximumFractionalValue. Segment numbers become label values, and the table names them.
    /// - Throws: `DICOMSeriesError` (naming the file) for a file that is not a SEG, a SEG without the
    ///   geometry to place it, or frames that do not fit the reference; `DICOMError` when DCMTK cannot read it.
    public static func read(_ path: String, reference: DICOMStack? = nil) throws -> DICOMSegmentationContents {
        let file = try DICOMFile(path: path)
        defer { withExtendedLifetime(file) {} }  // packed pixels point into it until the frames are painted
        var info = vf_seg_info()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_seg_read_info(file.handle, &info, &err, err.count) == 0 else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        func fail(_ reason: String) -> DICOMSeriesError { DICOMSeriesError(path: path, reason: reason) }
        let sopClass = DICOMPixels.cString(info.sop_class_uid)
        guard sopClass == DICOMSOPClass.segmentation || sopClass == DICOMSOPClass.labelMapSegmentation else {
            let name = DICOMSOPClass.nonImageName(sopClass).map { "a \($0)" } ?? "an image (SOP class \(sopClass.isEmpty ? "absent" : sopClass))"
            throw fail("not a DICOM SEG: the file is \(name)")
        }
        let type = DICOMPixels.cString(info.segmentation_type)
        guard ["BINARY", "FRACTIONAL", "LABELMAP"].contains(type) else {
            throw fail("SegmentationType \"\(type)\" is not BINARY, FRACTIONAL or LABELMAP")
        }
        let table = try segments(file, count: Int(info.segments), fail: fail)
        let numbers = Set(table.labels.map(\.value))
        let pixels = try SegmentationPixels(file)
        let frames = pixels.frames
        guard pixels.samplesPerPixel == 1 else { throw fail("a SEG's frames have one sample per pixel, this one has \(pixels.samplesPerPixel)") }
        guard Int(info.per_frame_items) == frames else {
            throw fail("\(frames) frames of pixel data but \(info.per_frame_items) per-frame functional groups")
        }
        // Frame positions and segments, and the shared plane geometry.
        var positions = [Double](repeating: 0, count: 3 * frames)
        var hasPosition = [UInt8](repeating: 0, count: frames)
        var frameSegment = [UInt16](repeating: 0, count: frames)
        guard vf_seg_read_frames(file.handle, UInt32(frames), &positions, &hasPosition, &frameSegment) == 0 else {
            throw fail("cannot read the per-frame functional groups")
        }
        if let missing = hasPosition.firstIndex(of: 0) { throw fail("frame \(missing + 1) has no ImagePositionPatient, so it cannot be placed") }
        guard let g = file.frameGeometry(0), g.has_image_orientation != 0, g.has_pixel_spacing != 0 else {
            throw fail("the SEG has no ImageOrientationPatient or PixelSpacing in its functional groups, so it cannot be placed")
        }
        let o = withUnsafeBytes(of: g.image_orientation) { Array($0.bindMemory(to: Double.self)) }
        let ps = withUnsafeBytes(of: g.pixel_spacing) { Array($0.bindMemory(to: Double.self)) }
        let row = SIMD3(o[0], o[1], o[2]), column = SIMD3(o[3], o[4], o[5])
        let normal = SIMD3(row.y * column.z - row.z * column.y, row.z * column.x - row.x * column.z, row.x * column.y - row.y * column.x)
        let framePosition = { (f: Int) in SIMD3(positions[3 * f], positions[3 * f + 1], positions[3 * f + 2]) }

        let grid: Geometry
        if let reference {
            let target = reference.geometry()
            let sourceFoR = reference.header.frameOfReferenceUID, segFoR = DICOMPixels.cString(info.frame_of_reference_uid)
            if !sourceFoR.isEmpty, !segFoR.isEmpty, sourceFoR != segFoR {
                throw fail("the SEG's frame of reference (\(segFoR)) is not the reference series' (\(sourceFoR)); it does not segment that series")
            }
            let d = target.direction
            func apart(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }
            let sameAxes = apart(d.column(0), row) < 1e-3 && apart(d.column(1), column) < 1e-3
            guard sameAxes, abs(target.spacing.x - ps[1]) < 1e-3, abs(target.spacing.y - ps[0]) < 1e-3 else {
                throw fail("the SEG's frames (orientation \(o.map(DecimalString.format)), pixel spacing \(ps.map(DecimalString.format))) do not lie in the reference series' planes (\(describe(target)))")
            }
            grid = target
        } else {
            grid = try spannedGrid(frames: frames, position: framePosition, row: row, column: column, normal: normal,
                                   pixelSpacing: ps, rows: pixels.rows, columns: pixels.columns, file: file, fail: fail)
        }
        guard let inverse = grid.affine.inverse else { throw fail("the grid's directions are degenerate") }

        // Paint every frame onto the grid, into 8-bit labels when every segment number fits.
        let nx = grid.size.x, ny = grid.size.y, nz = grid.size.z
        let rows = pixels.rows, columns = pixels.columns, frameSize = rows * columns
        let isLabelMap = type == "LABELMAP"
        // A pixel belongs to its frame's segment when its value is at least `least` (1 for BINARY; half
        // the maximum, rounded up, for FRACTIONAL).
        let maximum = info.max_fractional_value > 0 ? Int(info.max_fractional_value) : 255
        let least = type == "FRACTIONAL" ? (maximum + 1) / 2 : 1
        var known = [Bool](repeating: false, count: 65536)
        for v in numbers { known[v] = true }
        var placements: [(i0: Int, j0: Int, k: Int, segment: Int)] = []
        for f in 0..<frames {
            let index = inverse.apply(framePosition(f))
            let i0 = Int(index.x.rounded()), j0 = Int(index.y.rounded()), k = Int(index.z.rounded())
            guard abs(index.x - Double(i0)) < 0.01, abs(index.y - Double(j0)) < 0.01, abs(index.z - Double(k)) < 0.01 else {
                throw fail("frame \(f + 1) at \(describePoint(framePosition(f))) does not fall on a voxel of the \(reference == nil ? "SEG's" : "reference series'") grid (index \(describePoint(index)))")
            }
            guard (0..<nz).contains(k) else {
                throw fail("frame \(f + 1) at \(describePoint(framePosition(f))) lies outside the reference series (slice \(k + 1) of \(nz))")
            }
            let segment = Int(frameSegment[f])
            if !isLabelMap && !known[segment] { throw fail("frame \(f + 1) refers to segment \(segment), which the SegmentSequence does not describe") }
            placements.append((i0, j0, k, segment))
        }
        var overlapping = 0
        var unknownValue: (frame: Int, value: Int)?
        func paint<T: FixedWidthInteger, L: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, into out: inout [L]) {
            known.withUnsafeBufferPointer { known in
            out.withUnsafeMutableBufferPointer { out in
                for (f, p) in placements.enumerated() {
                    let base = f * frameSize
                    let firstColumn = max(0, -p.i0), lastColumn = min(columns, nx - p.i0)
                    guard firstColumn < lastColumn else { continue }
                    for r in 0..<rows {
                        let j = p.j0 + r
                        guard j >= 0, j < ny else { continue }
                        let row = base + r * columns, target = (p.k * ny + j) * nx + p.i0
                        for c in firstColumn..<lastColumn {
                            let v = Int(values[row + c])
                            let label: Int
                            if isLabelMap {
                                guard v != 0 else { continue }
                                guard v < 65536, known[v] else {
                                    if unknownValue == nil { unknownValue = (f, v) }
                                    continue
                                }
                                label = v
                            } else {
                                guard v >= least else { continue }
                                label = p.segment
                            }
                            let at = target + c
                            let old = Int(out[at])
                            if old != 0 && old != label {
                                overlapping += 1
                                if old > label { continue }
                            }
                            out[at] = L(truncatingIfNeeded: label)
                        }
                    }
                }
            }
            }
        }
        // 1-bit frames are read packed: zero bytes are skipped eight at a time, set bits one by one.
        func paintBits<L: FixedWidthInteger & UnsignedInteger>(_ bits: UnsafeBufferPointer<UInt8>, into out: inout [L]) {
            guard let base = bits.baseAddress else { return }
            let raw = UnsafeRawPointer(base)
            out.withUnsafeMutableBufferPointer { out in
                for (f, p) in placements.enumerated() {
                    let firstColumn = max(0, -p.i0), lastColumn = min(columns, nx - p.i0)
                    guard firstColumn < lastColumn, frameSize > 0 else { continue }
                    let start = f * frameSize, end = start + frameSize
                    var byte = start >> 3
                    let lastByte = (end - 1) >> 3
                    while byte <= lastByte {
                        if byte + 8 <= lastByte, raw.loadUnaligned(fromByteOffset: byte, as: UInt64.self) == 0 {
                            byte += 8
                            continue
                        }
                        var mask = bits[byte]
                        while mask != 0 {
                            let bit = byte << 3 + mask.trailingZeroBitCount
                            mask &= mask &- 1
                            guard bit >= start, bit < end else { continue }
                            let pixel = bit - start
                            let r = pixel / columns, c = pixel - r * columns
                            let j = p.j0 + r
                            guard j >= 0, j < ny, c >= firstColumn, c < lastColumn else { continue }
                            let at = (p.k * ny + j) * nx + p.i0 + c
                            let old = Int(out[at])
                            if old != 0 && old != p.segment {
                                overlapping += 1
                                if old > p.segment { continue }
                            }
                            out[at] = L(truncatingIfNeeded: p.segment)
                        }
                        byte += 1
                    }
                }
            }
        }
        func painted<L: FixedWidthInteger & UnsignedInteger>(_: L.Type) throws -> [L] {
            var out = [L](repeating: 0, count: nx * ny * nz)
            let samples: VoxelArray
            switch pixels.storage {
            case .packed(let bits): paintBits(bits, into: &out); return out
            case .bytes(let bytes): paint(bytes, into: &out); return out
            case .words(let words): paint(words, into: &out); return out
            case .decoded(let decoded): samples = decoded
            }
            switch samples {
            case .uint8(let v): v.withUnsafeBufferPointer { paint($0, into: &out) }
            case .uint16(let v): v.withUnsafeBufferPointer { paint($0, into: &out) }
            case .uint32(let v): v.withUnsafeBufferPointer { paint($0, into: &out) }
            default: throw fail("a SEG's pixels are unsigned integers; this one's are \(samples.type)")
            }
            return out
        }
        let maxLabel = table.labels.map(\.value).max() ?? 0
        let voxels: VoxelArray = maxLabel <= 255 ? .uint8(try painted(UInt8.self)) : .uint16(try painted(UInt16.self))
        if let unknownValue { throw fail("frame \(unknownValue.frame + 1) holds pixel value \(unknownValue.value), which no segment describes") }
        let map = try LabelMap(Volume(geometry: grid, voxels: voxels))
        return DICOMSegmentationContents(labels: map, table: table, segmentationType: type,
                                         frameOfReferenceUID: DICOMPixels.cString(info.frame_of_reference_uid),
                                         referencedSeriesUID: DICOMPixels.cString(info.referenced_series_uid),
                                         overlappingVoxels: overlapping, frames: frames)
    }

    /// The SegmentSequence as a label table (value = segment number). A LABELMAP's background segment (0)
    /// is left out.
    static func segments(_ file: DICOMFile, count: Int, fail: (String) -> DICOMSeriesError) throws -> LabelTable {
        var labels: [LabelInfo] = []
        for n in 0..<count {
            var s = vf_seg_segment()
            guard vf_seg_read_segment(file.handle, UInt32(n), &s) == 0, s.has_number != 0 else {
                throw fail("item \(n + 1) of the SegmentSequence has no SegmentNumber")
            }
            let number = Int(s.number)
            if number == 0 { continue }
            guard !labels.contains(where: { $0.value == number }) else { throw fail("segment \(number) is described twice") }
            func code(_ scheme: some Any, _ value: some Any, _ meaning: some Any) -> CodedConcept? {
                let sc = DICOMPixels.cString(scheme), v = DICOMPixels.cString(value), m = DICOMPixels.cString(meaning)
                return sc.isEmpty || v.isEmpty ? nil : CodedConcept(scheme: sc, value: v, meaning: m.isEmpty ? v : m)
            }
            let name = DICOMPixels.cString(s.label)
            var info = LabelInfo(value: number, name: name.isEmpty ? "Segment \(number)" : name)
            if s.has_cielab != 0 {
                info.color = LabelInfo.sRGB(fromCIELab: [Int(s.cielab.0), Int(s.cielab.1), Int(s.cielab.2)])
            }
            if let c = code(s.category_scheme, s.category_value, s.category_meaning) { info.category = c }
            if let t = code(s.type_scheme, s.type_value, s.type_meaning) { info.type = t }
            info.region = code(s.region_scheme, s.region_value, s.region_meaning)
            labels.append(info)
        }
        guard !labels.isEmpty else { throw fail("the SEG describes no segment") }
        return LabelTable(labels)
    }

    /// The grid a SEG's frames span: in-plane axes and spacing as shared, slices from the lowest to the
    /// highest position along the normal, spaced by SpacingBetweenSlices when every step between frames is
    /// a multiple of it, else by the smallest step.
    static func spannedGrid(frames: Int, position: (Int) -> SIMD3<Double>, row: SIMD3<Double>, column: SIMD3<Double>,
                            normal: SIMD3<Double>, pixelSpacing ps: [Double], rows: Int, columns: Int,
                            file: DICOMFile, fail: (String) -> DICOMSeriesError) throws -> Geometry {
        var distances = (0..<frames).map { (position($0) * normal).sum() }.sorted()
        var distinct: [Double] = []
        for d in distances where distinct.last.map({ abs(d - $0) > 1e-3 }) ?? true { distinct.append(d) }
        distances = distinct
        let spacingTag = try? DICOMHeader.read(file).spacingBetweenSlices
        let sharedSpacing = file.frameGeometry(0).flatMap { g -> Double? in g.has_slice_thickness != 0 ? g.slice_thickness : nil }
        var step = 1.0
        if distances.count > 1 {
            let steps = zip(distances.dropFirst(), distances).map { $0 - $1 }
            let smallest = steps.min() ?? 1
            step = smallest
            for candidate in [spacingTag ?? nil, sharedSpacing].compactMap({ $0 }) where candidate > 1e-6 && candidate <= smallest + 1e-3 {
                if steps.allSatisfy({ abs($0 / candidate - ($0 / candidate).rounded()) < 1e-2 }) { step = candidate; break }
            }
            for s in steps where abs(s / step - (s / step).rounded()) > 1e-2 {
                throw fail("the frames are not evenly spaced along the slice normal (steps of \(DecimalString.format(step)) and \(DecimalString.format(s)) mm); give --reference to place them on a series")
            }
        } else if let s = sharedSpacing ?? spacingTag ?? nil, s > 0 {
            step = s
        }
        let count = distances.count > 1 ? Int(((distances[distances.count - 1] - distances[0]) / step).rounded()) + 1 : 1
        // Origin: the in-plane origin of the first frame, moved along the normal to the lowest slice.
        let first = position(0)
        let origin = first + normal * (distances[0] - (first * normal).sum())
        return Geometry(size: SIMD3(columns, rows, count), spacing: SIMD3(ps[1], ps[0], step), origin: origin,
                        direction: Matrix3(columns: row, column, normal))
    }

    static func describePoint(_ p: SIMD3<Double>) -> String {
        "(\(DecimalString.format(p.x)), \(DecimalString.format(p.y)), \(DecimalString.format(p.z)))"
    }
}

/// A SEG's pixel data: native frames as stored in the loaded file (never copied; 1-bit frames never unpacked),
/// or compressed frames decoded.
struct SegmentationPixels {
    enum Storage {
        /// Bits packed least significant first, frame after frame; points into the file, which must stay open.
        case packed(UnsafeBufferPointer<UInt8>)
        /// Native 8- or 16-bit samples; point into the file, which must stay open.
        case bytes(UnsafeBufferPointer<UInt8>)
        case words(UnsafeBufferPointer<UInt16>)
        case decoded(VoxelArray)
    }
    let frames: Int
    let rows: Int
    let columns: Int
    let samplesPerPixel: Int
    let storage: Storage

    init(_ file: DICOMFile) throws {
        var info = vf_pixel_info()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_dicom_pixel_info(file.handle, &info, &err, err.count) == 0 else {
            throw DICOMError(path: file.path, reason: DICOMFile.message(err))
        }
        let bits = info.bits_allocated
        var data: UnsafeRawPointer?
        var length: UInt64 = 0
        // Native data is read where it lies; anything else (or native data DCMTK cannot hand over as it is)
        // goes through the decoder, which also names what is wrong with it.
        if info.encapsulated == 0 && info.samples_per_pixel == 1 && (bits == 1 || bits == 8 || bits == 16),
           vf_dicom_native_pixels(file.handle, &data, &length, &err, err.count) == 0, let data {
            (frames, rows, columns, samplesPerPixel) = (Int(info.frames), Int(info.rows), Int(info.columns), 1)
            switch bits {
            case 1: storage = .packed(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: Int(length)))
            case 8: storage = .bytes(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: Int(length)))
            default: storage = .words(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt16.self), count: Int(length) / 2))
            }
        } else {
            let pixels = try DICOMPixels.decode(file)
            (frames, rows, columns, samplesPerPixel) = (pixels.frames, pixels.rows, pixels.columns, pixels.samplesPerPixel)
            storage = .decoded(pixels.samples)
        }
    }
}
