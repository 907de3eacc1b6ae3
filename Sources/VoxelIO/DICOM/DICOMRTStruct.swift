import CDCMTK
import Foundation
import VoxelCore
import VoxelSupport

/// How `DICOMRTStruct.write` names and marks a structure set.
public struct DICOMRTStructOptions: Sendable {
    /// ROIGenerationAlgorithm: "AUTOMATIC", "SEMIAUTOMATIC" or "MANUAL".
    public var algorithmType = "AUTOMATIC"
    /// SeriesDescription of the RTSTRUCT series.
    public var seriesDescription = "Structures"
    /// SeriesNumber of the RTSTRUCT series.
    public var seriesNumber = 301
    /// StructureSetLabel (at most 16 characters).
    public var structureSetLabel = "VoxelFlow"
    /// RTROIInterpretedType of every ROI: ORGAN, PTV, GTV, AVOIDANCE, … or empty.
    public var interpretedType = "ORGAN"
    /// Default options.
    public init() {}
}

/// An RTSTRUCT rasterised onto its series.
public struct DICOMRTStructContents: Sendable {
    /// The label map: each voxel holds the rank (1, 2, …, in the file's order) of the ROI covering it.
    public var labels: LabelMap
    /// One entry per ROI: value = rank, with the ROI's name and display colour.
    public var table: LabelTable
    /// Voxels covered by more than one ROI (the higher rank is kept there).
    public var overlappingVoxels: Int
    /// Contours that were not rasterised and why (open contours, points, contours between slices).
    public var warnings: [String]
    /// Number of contours rasterised.
    public var contours: Int
}

/// DICOM RT Structure Sets (RTSTRUCT, PS3.3 A.19), the contour format of radiotherapy planning systems:
/// written from a label map (one ROI per label, named and coloured from a `LabelTable`; per slice, one
/// CLOSED_PLANAR contour per outline and per hole, traced half a pixel outside the label's pixel centres so
/// that filling them with the even–odd rule gives the label back) and read back onto the series' grid.
public enum DICOMRTStruct {
    /// The SeriesInstanceUID an RTSTRUCT says its contours were drawn on, or nil when `path` is not an
    /// RTSTRUCT or does not say.
    public static func referencedSeriesUID(_ path: String) -> String? {
        guard isStructureSet(path), let file = try? DICOMFile(path: path, headerOnly: true) else { return nil }
        var info = vf_rt_info()
        var err = [CChar](repeating: 0, count: 256)
        guard vf_rt_read_info(file.handle, &info, &err, err.count) == 0 else { return nil }
        let uid = DICOMPixels.cString(info.referenced_series_uid)
        return uid.isEmpty ? nil : uid
    }

    /// Whether `path` is a DICOM file of the RT Structure Set SOP class (reads only the first elements).
    public static func isStructureSet(_ path: String) -> Bool {
        DICOMHeader.sopClassUID(of: path) == DICOMSOPClass.rtStructureSet
    }

    /// Writes `labels`, which must lie on the grid of `reference`, as an RTSTRUCT at `path`: ROI n is the n-th
    /// label present (increasing value). Every contour references the image of its slice.
    /// - Returns: the number of ROIs and contours written.
    /// - Throws: `DICOMSeriesError` when the labels are not on the series' grid, hold no label, or the series
    ///   cannot be referenced; `DICOMError` when the file cannot be built or written.
    @discardableResult
    public static func write(_ labels: LabelMap, reference stack: DICOMStack, table: LabelTable? = nil, to path: String,
                             options: DICOMRTStructOptions = DICOMRTStructOptions()) throws -> (rois: Int, contours: Int) {
        try DICOMSegmentation.checkGrid(labels.geometry, stack: stack)
        let present = labels.labelsPresent().filter { $0 > 0 }
        guard !present.isEmpty else { throw DICOMSeriesError(path: path, reason: "the label map holds no label (all voxels are 0); nothing to write") }
        guard present.allSatisfy({ $0 <= 65535 }) else { throw DICOMSeriesError(path: path, reason: "label values above 65535 are not supported") }
        let first = stack.slices[0]
        var err = [CChar](repeating: 0, count: 512)
        guard let rt = vf_rt_create(first.path, &err, err.count) else { throw DICOMError(path: first.path, reason: DICOMFile.message(err)) }
        defer { vf_rt_free(rt) }
        vf_rt_set_string(rt, 0x0008, 0x103E, options.seriesDescription)
        vf_rt_set_string(rt, 0x0020, 0x0011, String(options.seriesNumber))
        vf_rt_set_string(rt, 0x3006, 0x0002, String(options.structureSetLabel.prefix(16)))
        var seen = Set<String>()
        for s in stack.slices where seen.insert(s.header.sopInstanceUID).inserted {
            vf_rt_add_image(rt, s.header.sopClassUID, s.header.sopInstanceUID)
        }
        let table = table ?? LabelTable.generic(present)
        var roiOf = [Int32](repeating: 0, count: 65536)
        for (n, value) in present.enumerated() {
            let info = table[value] ?? LabelInfo(value: value, name: "Label \(value)")
            let c = info.color.map { UInt8(clamping: $0) }
            roiOf[value] = Int32(n + 1)
            guard vf_rt_add_roi(rt, Int32(n + 1), String(info.name.prefix(64)), options.algorithmType, options.interpretedType, c[0], c[1], c[2]) == 0 else {
                throw DICOMError(path: path, reason: "cannot add ROI \(n + 1) (\(info.name))")
            }
        }
        let g = labels.geometry
        let nx = g.size.x, ny = g.size.y, frameSize = nx * ny
        let values = labels.volume.voxels
        var slice = [UInt16](repeating: 0, count: frameSize)
        var contours = 0
        let affine = g.affine
        for k in 0..<g.size.z {
            for i in 0..<frameSize { slice[i] = UInt16(clamping: Int(values.value(at: k * frameSize + i))) }
            guard slice.contains(where: { $0 != 0 }) else { continue }
            let traced = slice.withUnsafeBufferPointer { SliceContours.trace($0, columns: nx, rows: ny) }
            let image = stack.slices[k]
            let frame = image.header.numberOfFrames > 1 ? Int32(image.frame + 1) : 0
            for label in traced.keys.sorted() {
                for polygon in traced[label] ?? [] {
                    // Patient coordinates, rounded to a micrometre (short decimal strings, far below a voxel).
                    var points: [Double] = []
                    points.reserveCapacity(polygon.count * 3)
                    for p in polygon {
                        let w = affine.apply(SIMD3(p.x, p.y, Double(k)))
                        points.append(contentsOf: [w.x, w.y, w.z].map { ($0 * 1000).rounded() / 1000 })
                    }
                    guard vf_rt_add_contour(rt, roiOf[label], image.header.sopClassUID, image.header.sopInstanceUID, frame,
                                            points, UInt32(polygon.count)) == 0 else {
                        throw DICOMError(path: path, reason: "cannot add a contour of label \(label) on slice \(k + 1)")
                    }
                    contours += 1
                }
            }
        }
        try FileIO.writeThenRename(path, what: "structure set") { temporary, message in vf_rt_write(rt, temporary, &message, message.count) }
        return (present.count, contours)
    }

    /// Collects the contours the C reader hands over.
    final class ContourSink {
        var contours: [(type: String, points: [SIMD3<Double>])] = []
    }

    /// Rasterises the RTSTRUCT at `path` onto the grid of `reference` (the series it was drawn on; the frame
    /// of reference must match): each CLOSED_PLANAR contour is put on the slice its points lie on, and the
    /// contours of an ROI on a slice are filled together by the even–odd rule (so holes stay holes): a pixel
    /// counts when its centre lies inside or on a contour (see `SliceContours.fill`). Other contour types and
    /// contours that lie between slices are skipped, counted per ROI in the warnings.
    /// - Throws: `DICOMSeriesError` (naming the file) for a file that is not an RTSTRUCT, has no ROI or
    ///   another frame of reference; `DICOMError` when DCMTK cannot read it.
    public static func read(_ path: String, reference stack: DICOMStack) throws -> DICOMRTStructContents {
        try read(path, grid: stack.geometry(), frameOfReferenceUID: stack.header.frameOfReferenceUID, gridName: "the reference series")
    }

    /// Rasterises the RTSTRUCT at `path` onto `grid` (any voxel grid in the same patient frame, e.g. a NIfTI label
    /// map's), as `read(_:reference:)` does; its slices must be the grid's k planes. The frame of reference is
    /// checked when both the file and `frameOfReferenceUID` give one.
    public static func read(_ path: String, grid: Geometry, frameOfReferenceUID: String? = nil,
                            gridName: String = "the grid") throws -> DICOMRTStructContents {
        let file = try DICOMFile(path: path)
        var info = vf_rt_info()
        var err = [CChar](repeating: 0, count: 512)
        guard vf_rt_read_info(file.handle, &info, &err, err.count) == 0 else { throw DICOMError(path: path, reason: DICOMFile.message(err)) }
        func fail(_ reason: String) -> DICOMSeriesError { DICOMSeriesError(path: path, reason: reason) }
        let sopClass = DICOMPixels.cString(info.sop_class_uid)
        guard sopClass == DICOMSOPClass.rtStructureSet else {
            let name = DICOMSOPClass.nonImageName(sopClass).map { "a \($0)" } ?? "an image (SOP class \(sopClass.isEmpty ? "absent" : sopClass))"
            throw fail("not an RT Structure Set: the file is \(name)")
        }
        guard info.rois > 0 else { throw fail("the structure set lists no ROI") }
        let ours = DICOMPixels.cString(info.frame_of_reference_uid), theirs = frameOfReferenceUID ?? ""
        if !ours.isEmpty, !theirs.isEmpty, ours != theirs {
            throw fail("the structure set's frame of reference (\(ours)) is not the reference series' (\(theirs)); it was drawn on another series")
        }
        guard let inverse = grid.affine.inverse else { throw fail("\(gridName)'s grid is degenerate") }
        let nx = grid.size.x, ny = grid.size.y, nz = grid.size.z
        var out = [UInt16](repeating: 0, count: grid.voxelCount)
        var labels: [LabelInfo] = []
        var warnings: [String] = []
        var overlapping = 0, rasterised = 0
        for index in 0..<Int(info.rois) {
            var roi = vf_rt_roi()
            guard vf_rt_read_roi(file.handle, UInt32(index), &roi) == 0 else { throw fail("item \(index + 1) of the StructureSetROISequence has no ROINumber") }
            let rank = labels.count + 1
            let name = DICOMPixels.cString(roi.name)
            var label = LabelInfo(value: rank, name: name.isEmpty ? "ROI \(roi.number)" : name)
            if roi.has_color != 0 { label.color = [Int(roi.color.0), Int(roi.color.1), Int(roi.color.2)].map { min(255, max(0, $0)) } }
            labels.append(label)
            let sink = ContourSink()
            let status = vf_rt_read_contours(file.handle, roi.number, { context, _, type, points, count in
                guard let context, let points, let type else { return 1 }
                let sink = Unmanaged<ContourSink>.fromOpaque(context).takeUnretainedValue()
                var list: [SIMD3<Double>] = []
                list.reserveCapacity(Int(count))
                for n in 0..<Int(count) { list.append(SIMD3(points[3 * n], points[3 * n + 1], points[3 * n + 2])) }
                sink.contours.append((String(cString: type), list))
                return 0
            }, Unmanaged.passUnretained(sink).toOpaque())
            guard status == 0 else { throw fail("a contour of ROI \(roi.number) (\(label.name)) cannot be read") }
            // Group the ROI's closed contours by slice.
            var bySlice: [Int: [[SIMD2<Double>]]] = [:]
            var notClosed = 0, offSlice = 0, firstOff: String?
            for contour in sink.contours {
                guard contour.type == "CLOSED_PLANAR" || contour.type == "CLOSEDPLANAR_XOR", !contour.points.isEmpty else {
                    notClosed += 1
                    continue
                }
                let indices = contour.points.map { inverse.apply($0) }
                let z = indices.map(\.z).reduce(0, +) / Double(indices.count)
                let k = Int(z.rounded())
                guard indices.allSatisfy({ abs($0.z - Double(k)) < 0.5 }), (0..<nz).contains(k) else {
                    offSlice += 1
                    if firstOff == nil { firstOff = "slice position \(DecimalString.format(z + 1)) of \(nz)" }
                    continue
                }
                bySlice[k, default: []].append(indices.map { SIMD2($0.x, $0.y) })
                rasterised += 1
            }
            if notClosed > 0 { warnings.append("ROI \(roi.number) (\(label.name)): \(notClosed) contour\(notClosed == 1 ? " is" : "s are") not closed planar polygons (points or open lines); skipped") }
            if offSlice > 0 { warnings.append("ROI \(roi.number) (\(label.name)): \(offSlice) contour\(offSlice == 1 ? " does" : "s do") not lie on a slice of the series (e.g. at \(firstOff ?? "-")); skipped") }
            for (k, polygons) in bySlice {
                let covered = SliceContours.fill(polygons, columns: nx, rows: ny)
                let base = k * nx * ny
                for i in 0..<covered.count where covered[i] {
                    let old = Int(out[base + i])
                    if old != 0 && old != rank { overlapping += 1 }
                    out[base + i] = UInt16(rank)
                }
            }
        }
        let voxels: VoxelArray = labels.count <= 255 ? .uint8(out.map { UInt8(truncatingIfNeeded: $0) }) : .uint16(out)
        return DICOMRTStructContents(labels: try LabelMap(Volume(geometry: grid, voxels: voxels)), table: LabelTable(labels),
                                     overlappingVoxels: overlapping, warnings: warnings, contours: rasterised)
    }
}
