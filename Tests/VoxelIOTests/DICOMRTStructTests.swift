import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

@Suite("Slice contours: traced outlines and holes fill back to the labels exactly")
struct SliceContourTests {
    /// A random slice of blobs, holes and pixels touching only at corners.
    static func randomSlice(seed: UInt64, columns: Int, rows: Int, labels: Int) -> [UInt16] {
        var rng = SeededGenerator(seed: seed)
        var slice = [UInt16](repeating: 0, count: columns * rows)
        for _ in 0..<12 {
            let label = UInt16(Int.random(in: 1...labels, using: &rng))
            let cx = Double.random(in: 0..<Double(columns), using: &rng), cy = Double.random(in: 0..<Double(rows), using: &rng)
            let r = Double.random(in: 1...8, using: &rng), hole = Double.random(in: 0...0.6, using: &rng) * r
            for j in 0..<rows {
                for i in 0..<columns {
                    let d = ((Double(i) - cx) * (Double(i) - cx) + (Double(j) - cy) * (Double(j) - cy)).squareRoot()
                    if d <= r && d >= hole { slice[j * columns + i] = label }
                }
            }
        }
        // A checkerboard corner: pixels that touch diagonally only.
        for j in 0..<4 { for i in 0..<4 where (i + j) % 2 == 0 { slice[j * columns + i] = 1 } }
        return slice
    }

    @Test("trace then fill gives every label back, voxel for voxel", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func roundTrip(_ seed: UInt64) {
        let nx = 40, ny = 31
        let slice = Self.randomSlice(seed: seed, columns: nx, rows: ny, labels: 3)
        let traced = slice.withUnsafeBufferPointer { SliceContours.trace($0, columns: nx, rows: ny) }
        for label in Set(slice) where label != 0 {
            let polygons = traced[Int(label)] ?? []
            #expect(!polygons.isEmpty)
            // No contour passes through a pixel centre: every point lies on a half-pixel line.
            for p in polygons.joined() { #expect(p.x != p.x.rounded() || p.y != p.y.rounded()) }
            let covered = SliceContours.fill(polygons, columns: nx, rows: ny)
            let expected = slice.map { $0 == label }
            #expect(covered == expected, "label \(label), seed \(seed): \(zip(covered, expected).filter { $0 != $1 }.count) pixels differ")
        }
    }

    @Test("a hole is its own contour, and contours through pixel centres cover their edge pixels")
    func holesAndCentres() {
        // A 5 × 5 square with a 1-pixel hole in the middle.
        var slice = [UInt16](repeating: 0, count: 49)
        for j in 1...5 { for i in 1...5 where !(i == 3 && j == 3) { slice[j * 7 + i] = 1 } }
        let traced = slice.withUnsafeBufferPointer { SliceContours.trace($0, columns: 7, rows: 7) }
        #expect(traced[1]?.count == 2)
        #expect(traced[1]?.map(\.count).sorted() == [4, 8])  // straight runs collapse; corners are cut (a diamond hole, an octagon outline)
        // A square drawn through the centres of its edge pixels (as rt-utils and OpenCV write contours).
        let square: [SIMD2<Double>] = [SIMD2(1, 1), SIMD2(5, 1), SIMD2(5, 5), SIMD2(1, 5)]
        let covered = SliceContours.fill([square], columns: 7, rows: 7)
        #expect(covered.filter { $0 }.count == 25)
        // One point and a two-point line cover the pixels they pass through.
        #expect(SliceContours.fill([[SIMD2(2, 3)]], columns: 7, rows: 7).enumerated().filter { $0.element }.map(\.offset) == [3 * 7 + 2])
        #expect(SliceContours.fill([[SIMD2(1, 1), SIMD2(4, 1)]], columns: 7, rows: 7).filter { $0 }.count == 4)
    }
}

@Suite("DICOM RTSTRUCT: written from label maps, read back onto the series")
struct DICOMRTStructTests {
    @Test("an RTSTRUCT of the sample series reads back to the label map exactly, with ROI names and colours")
    func roundTrip() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let map = try SegFixtures.labels(stack, values: [9, 2, 5])
        let table = LabelTable([LabelInfo(value: 9, name: "Bone", color: [241, 214, 145])])
        let written = try DICOMRTStruct.write(map, reference: stack, table: table, to: dir + "/rt.dcm")
        #expect(written.rois == 3 && written.contours > 100)
        let rt = try DICOMRTStruct.read(dir + "/rt.dcm", reference: stack)
        #expect(SegFixtures.values(rt.labels) == SegFixtures.ranked(map))
        #expect(rt.table.labels.map(\.name) == ["Label 2", "Label 5", "Bone"])
        #expect(rt.table[3]?.color == [241, 214, 145])
        #expect(rt.warnings.isEmpty && rt.overlappingVoxels == 0 && rt.contours == written.contours)
        #expect(rt.labels.geometry == stack.geometry())
    }

    @Test("reading refuses what is not an RTSTRUCT, and an RTSTRUCT of another frame of reference, by name")
    func errors() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        do {
            _ = try DICOMRTStruct.read(stack.slices[0].path, reference: stack)
            Issue.record("an image was read as an RTSTRUCT")
        } catch let e as DICOMSeriesError {
            #expect(e.reason.contains("not an RT Structure Set"), "\(e)")
        }
        try DICOMRTStruct.write(try SegFixtures.labels(stack, values: [1, 2]), reference: stack, to: dir + "/rt.dcm")
        let other = try #require(DICOMScanner.scan(TestPaths.sampleData + "/dicom/CT_small.dcm").stacks.first)
        do {
            _ = try DICOMRTStruct.read(dir + "/rt.dcm", reference: other)
            Issue.record("an RTSTRUCT of another frame of reference was accepted")
        } catch let e as DICOMSeriesError {
            #expect(e.reason.contains("frame of reference"), "\(e)")
        }
        let bytes = try #require(FileManager.default.contents(atPath: dir + "/rt.dcm"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.dcm"))
        #expect(throws: (any Error).self) { try DICOMRTStruct.read(dir + "/cut.dcm", reference: stack) }
    }
}

/// RTSTRUCTs exchanged with rt-utils (pydicom + OpenCV) and validated by dciodvfy.
@Suite("DICOM RTSTRUCT checked by dciodvfy and rt-utils", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct DICOMRTStructOracleTests {
    static var python: String { TestPaths.oraclePython ?? "python3" }
    static var script: String { TestPaths.repositoryRoot + "/scripts/oracles/rtstruct_reference.py" }

    static func hasRTUtils() -> Bool { Subprocess.run([python, "-c", "import rt_utils"]).status == 0 }

    @Test("VoxelFlow's RTSTRUCT validates, rt-utils reads its ROIs, and rt-utils' rasterisation differs from ours only along boundaries")
    func oursReadByRTUtils() throws {
        guard Self.hasRTUtils() else { print("skipped: rt-utils absent (scripts/setup-oracles.sh installs it)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        // Bone (thin skull), soft tissue, and the whole head (one large blob) as three ROIs.
        let volume = try stack.volume()
        var values = [UInt8](repeating: 0, count: volume.voxels.count)
        for i in 0..<values.count {
            let hu = volume.scaling.apply(volume.voxels.value(at: i))
            values[i] = hu > 300 ? 1 : (hu > -100 ? 2 : 0)
        }
        for (name, labels) in [("tissues", values), ("head", values.map { $0 == 0 ? 0 : 1 })] {
            let map = try LabelMap(Volume(geometry: volume.geometry, voxels: .uint8(labels)))
            let labelsPath = dir + "/\(name).nii.gz", rtPath = dir + "/\(name).dcm", backPath = dir + "/\(name)-back.nii.gz"
            try NIfTI.write(map.volume, to: labelsPath)
            try DICOMRTStruct.write(map, reference: stack, to: rtPath)
            if TestPaths.exists("/usr/bin/dciodvfy") {
                let v = Subprocess.run(["/usr/bin/dciodvfy", rtPath])
                #expect((v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }.isEmpty, "dciodvfy: \(v.stderr.prefix(400))")
            }
            let back = try DICOMRTStruct.read(rtPath, reference: stack)
            #expect(SegFixtures.values(back.labels) == SegFixtures.ranked(map), "\(name): our round trip is not exact")
            try NIfTI.write(back.labels.volume, to: backPath)
            let r = Subprocess.run([Self.python, Self.script, "read", rtPath, SegFixtures.series, labelsPath, backPath])
            try #require(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let rois = try #require(json["rois"] as? [[String: Any]])
            #expect(rois.count == map.labelsPresent().filter { $0 > 0 }.count)
            for roi in rois {
                // rt-utils rounds points to whole pixels and fills edges in, so it disagrees along boundaries.
                #expect(roi["differingOffBoundary"] as? Int == 0, "\(name): \(roi)")
                if name == "head" { #expect((roi["dice"] as? Double ?? 0) >= 0.98, "\(roi)") }
            }
        }
    }

    @Test("an RTSTRUCT written by rt-utils reads back to the mask it was made from")
    func rtUtilsWritten() throws {
        guard Self.hasRTUtils() else { print("skipped: rt-utils absent (scripts/setup-oracles.sh installs it)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let map = try SegFixtures.labels(stack, values: [3, 7])
        try NIfTI.write(map.volume, to: dir + "/labels.nii.gz")
        let r = Subprocess.run([Self.python, Self.script, "write", SegFixtures.series, dir + "/labels.nii.gz", dir + "/rt.dcm"])
        try #require(r.status == 0, "\(r.stderr)")
        let rt = try DICOMRTStruct.read(dir + "/rt.dcm", reference: stack)
        #expect(rt.table.labels.map(\.name) == ["Structure 3", "Structure 7"])
        #expect(SegFixtures.values(rt.labels) == SegFixtures.ranked(map))
    }
}
