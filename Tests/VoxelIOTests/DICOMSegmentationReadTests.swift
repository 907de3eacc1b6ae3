import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

/// Label maps made from a series' intensities, for SEG round trips.
enum SegFixtures {
    static var series: String { TestPaths.sampleData + "/dicom/ct_head_implicit" }

    /// Labels `values[0]` (> 300 HU), `values[1]` (−100…300 HU) and, when given, `values[2]` (the left half of
    /// the air) on the stack's grid.
    static func labels(_ stack: DICOMStack, values: [Int]) throws -> LabelMap {
        let volume = try stack.volume()
        let nx = volume.geometry.size.x
        var out = [UInt16](repeating: 0, count: volume.voxels.count)
        for i in 0..<out.count {
            let hu = volume.scaling.apply(volume.voxels.value(at: i))
            if hu > 300 { out[i] = UInt16(values[0]) } else if hu > -100 { out[i] = UInt16(values[1]) } else if values.count > 2 && i % nx < nx / 2 { out[i] = UInt16(values[2]) }
        }
        return try LabelMap(Volume(geometry: volume.geometry, voxels: .uint16(out)))
    }

    /// `map` with each present label replaced by its rank (1, 2, …): what a SEG's segment numbers hold.
    static func ranked(_ map: LabelMap) -> [Int] {
        let present = map.labelsPresent().filter { $0 > 0 }
        var rank: [Int: Int] = [:]
        for (n, v) in present.enumerated() { rank[v] = n + 1 }
        return (0..<map.volume.voxels.count).map { rank[Int(map.volume.voxels.value(at: $0))] ?? 0 }
    }

    static func values(_ map: LabelMap) -> [Int] { (0..<map.volume.voxels.count).map { Int(map.volume.voxels.value(at: $0)) } }
}

@Suite("DICOM SEG read back: BINARY, LABELMAP and FRACTIONAL round trips and clear errors")
struct DICOMSegmentationReadTests {
    @Test("a BINARY and a LABELMAP SEG read back to the label map, with and without the reference series", arguments: [DICOMSegmentationType.binary, .labelMap])
    func roundTrip(_ type: DICOMSegmentationType) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let map = try SegFixtures.labels(stack, values: [9, 2, 5])
        let table = LabelTable([LabelInfo(value: 9, name: "Bone", color: [241, 214, 145]), LabelInfo(value: 2, name: "Soft tissue", color: [200, 60, 60])])
        var options = DICOMSegmentationOptions()
        options.type = type
        let path = dir + "/seg.dcm"
        try DICOMSegmentation.write(map, reference: stack, table: table, to: path, options: options)
        for reference in [stack, nil] {
            let seg = try DICOMSegmentation.read(path, reference: reference)
            #expect(seg.segmentationType == type.rawValue)
            #expect(seg.labels.geometry.size == map.geometry.size)
            #expect(seg.labels.geometry.affine.maxAbsDifference(to: map.geometry.affine) < 1e-4)
            #expect(SegFixtures.values(seg.labels) == SegFixtures.ranked(map), "voxels differ")
            // Segments 1, 2, 3 stand for labels 2, 5, 9 with their names and colours (through CIELab and back).
            #expect(seg.table.labels.map(\.name) == ["Soft tissue", "Label 5", "Bone"])
            #expect(seg.table.labels.map(\.value) == [1, 2, 3])
            #expect(seg.table[3]?.color == [241, 214, 145] && seg.table[1]?.color == [200, 60, 60])
            #expect(seg.overlappingVoxels == 0)
            #expect(seg.referencedSeriesUID == stack.header.seriesInstanceUID)
        }
    }

    @Test("a LABELMAP with more than 255 segments is written with 16 bits and reads back")
    func sixteenBitLabelMap() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let g = stack.geometry()
        // 300 labels: blocks of 8 × 8 pixels, numbered along the first slices.
        var values = [UInt16](repeating: 0, count: g.voxelCount)
        for n in 0..<300 {
            let k = n / 64, row = (n % 64) / 8, col = n % 8
            for j in 0..<8 { for i in 0..<8 { values[(k * g.size.y + row * 8 + j) * g.size.x + col * 8 + i] = UInt16(n + 1) } }
        }
        let map = try LabelMap(Volume(geometry: g, voxels: .uint16(values)))
        var options = DICOMSegmentationOptions()
        options.type = .labelMap
        let frames = try DICOMSegmentation.write(map, reference: stack, to: dir + "/seg.dcm", options: options)
        #expect(frames == 5)  // slices 1–5 hold labels; empty slices are left out
        let seg = try DICOMSegmentation.read(dir + "/seg.dcm", reference: stack)
        #expect(SegFixtures.values(seg.labels) == values.map(Int.init))
        #expect(seg.table.labels.count == 300)
    }

    @Test("a FRACTIONAL SEG keeps probabilities to 1/255 and reads back as the voxels at or above one half")
    func fractional() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let g = stack.geometry()
        // Two channels: a ramp along x (0 … 1) and its mirror image.
        var p = [Float](repeating: 0, count: 2 * g.voxelCount)
        for i in 0..<g.voxelCount {
            let x = Float(i % g.size.x) / Float(g.size.x - 1)
            p[i] = x
            p[g.voxelCount + i] = 1 - x
        }
        let volume = try Volume(geometry: g, voxels: .float32(p), timePoints: 2)
        let frames = try DICOMSegmentation.writeFractional(volume, reference: stack, to: dir + "/seg.dcm")
        #expect(frames == 2 * g.size.z)
        let seg = try DICOMSegmentation.read(dir + "/seg.dcm", reference: stack)
        #expect(seg.segmentationType == "FRACTIONAL")
        // Where both channels are ≥ ½ (the middle column) segment 2 wins and the overlap is counted.
        var expected = [Int](repeating: 0, count: g.voxelCount)
        var overlap = 0
        for i in 0..<g.voxelCount {
            let a = (p[i] * 255).rounded() >= 127.5, b = (p[g.voxelCount + i] * 255).rounded() >= 127.5
            expected[i] = b ? 2 : (a ? 1 : 0)
            if a && b { overlap += 1 }
        }
        #expect(SegFixtures.values(seg.labels) == expected)
        #expect(seg.overlappingVoxels == overlap)
    }

    @Test("reading refuses what is not a SEG, a SEG of another frame of reference, and a truncated SEG, by name")
    func errors() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let image = stack.slices[0].path
        #expect(throws: DICOMSeriesError.self) { try DICOMSegmentation.read(image) }
        do {
            _ = try DICOMSegmentation.read(image)
        } catch let e as DICOMSeriesError {
            #expect(e.path == image && e.reason.contains("not a DICOM SEG"), "\(e)")
        }
        let path = dir + "/seg.dcm"
        try DICOMSegmentation.write(try SegFixtures.labels(stack, values: [1, 2]), reference: stack, to: path)
        // Another series (another frame of reference) as the reference.
        let other = try #require(DICOMScanner.scan(TestPaths.sampleData + "/dicom/CT_small.dcm").stacks.first)
        do {
            _ = try DICOMSegmentation.read(path, reference: other)
            Issue.record("a SEG of another frame of reference was accepted")
        } catch let e as DICOMSeriesError {
            #expect(e.reason.contains("frame of reference"), "\(e)")
        }
        // Cut short: an error naming the file, never a crash.
        let bytes = try #require(FileManager.default.contents(atPath: path))
        for fraction in [0.3, 0.9] {
            let cut = dir + "/cut.dcm"
            try bytes.prefix(Int(Double(bytes.count) * fraction)).write(to: URL(fileURLWithPath: cut))
            do {
                _ = try DICOMSegmentation.read(cut)
                Issue.record("a truncated SEG was read")
            } catch let e as DICOMError {
                #expect(e.path == cut)
            } catch let e as DICOMSeriesError {
                #expect(e.path == cut)
            }
        }
    }
}

/// SEGs made by highdicom and dcmqi read by VoxelFlow, and VoxelFlow's LABELMAP and FRACTIONAL SEGs read by
/// them: voxel for voxel.
@Suite("DICOM SEG exchanged with highdicom and dcmqi", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct DICOMSegmentationExchangeTests {
    static var python: String { TestPaths.oraclePython ?? "python3" }
    static var dcmqi: String { (python as NSString).deletingLastPathComponent + "/itkimage2segimage" }

    /// Writes the labels (values 3 and 7) as NIfTI and returns the map and its path.
    static func labelFile(_ stack: DICOMStack, dir: String) throws -> (LabelMap, String) {
        let map = try SegFixtures.labels(stack, values: [3, 7])
        let path = dir + "/labels.nii.gz"
        try NIfTI.write(map.volume, to: path)
        return (map, path)
    }

    static func json(_ r: Subprocess.Result) throws -> [String: Any] {
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test("highdicom's BINARY, LABELMAP and FRACTIONAL SEGs read back to the label map they were made from", arguments: ["binary", "labelmap", "fractional"])
    func highdicomWritten(_ kind: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let (map, labels) = try Self.labelFile(stack, dir: dir)
        _ = try Self.json(Subprocess.run([Self.python, TestPaths.repositoryRoot + "/scripts/oracles/make_seg.py", SegFixtures.series, labels, dir + "/seg.dcm", kind]))
        for reference in [stack, nil] {
            let seg = try DICOMSegmentation.read(dir + "/seg.dcm", reference: reference)
            #expect(SegFixtures.values(seg.labels) == SegFixtures.ranked(map), "\(kind), reference \(reference != nil)")
            #expect(seg.labels.geometry.affine.maxAbsDifference(to: map.geometry.affine) < 1e-4)
            #expect(seg.table.labels.map(\.name) == ["Structure 3", "Structure 7"])
        }
    }

    @Test("dcmqi's BINARY and LABELMAP SEGs read back to the label map they were made from", arguments: ["binary", "labelmap"])
    func dcmqiWritten(_ kind: String) throws {
        guard TestPaths.exists(Self.dcmqi) else { print("skipped: dcmqi absent (scripts/setup-oracles.sh installs it)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let (map, labels) = try Self.labelFile(stack, dir: dir)
        func segment(_ v: Int) -> String {
            let code = #"{"CodeValue": "85756007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Tissue"}"#
            return #"{"labelID": \#(v), "SegmentLabel": "Structure \#(v)", "SegmentAlgorithmType": "AUTOMATIC", "SegmentAlgorithmName": "oracle", "SegmentedPropertyCategoryCodeSequence": \#(code), "SegmentedPropertyTypeCodeSequence": \#(code), "recommendedDisplayRGBValue": [\#(v * 30), 10, 10]}"#
        }
        let meta = #"{"ContentCreatorName": "oracle", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1", "SeriesDescription": "dcmqi", "SeriesNumber": "500", "InstanceNumber": "1", "BodyPartExamined": "", "segmentAttributes": [[\#(segment(3)), \#(segment(7))]]}"#
        try Data(meta.utf8).write(to: URL(fileURLWithPath: dir + "/meta.json"))
        let r = Subprocess.run([Self.dcmqi, "--inputImageList", labels, "--inputDICOMDirectory", SegFixtures.series, "--inputMetadata", dir + "/meta.json",
                                "--outputDICOM", dir + "/seg.dcm", "--segmentationType", kind])
        try #require(r.status == 0, "\(r.stdout) \(r.stderr)")
        let seg = try DICOMSegmentation.read(dir + "/seg.dcm", reference: stack)
        #expect(SegFixtures.values(seg.labels) == SegFixtures.ranked(map), "\(kind)")
        #expect(seg.table.labels.map(\.name) == ["Structure 3", "Structure 7"])
        #expect(seg.table[1]?.color == [90, 10, 10] && seg.table[2]?.color == [210, 10, 10])
    }

    /// VoxelFlow's SEG of `map` read by highdicom (exact) and dcmqi (Dice 1.0 per segment, same grid).
    static func checkOurs(_ type: DICOMSegmentationType, map: LabelMap, labels: String, stack: DICOMStack, series: String, dir: String) throws {
        var options = DICOMSegmentationOptions()
        options.type = type
        let path = dir + "/ours-\(type.rawValue).dcm"
        try DICOMSegmentation.write(map, reference: stack, to: path, options: options)
        if type == .binary, TestPaths.exists("/usr/bin/dciodvfy") {
            let v = Subprocess.run(["/usr/bin/dciodvfy", path])
            #expect((v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }.isEmpty, "dciodvfy: \(v.stderr.prefix(400))")
        }
        let hd = try json(Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/seg_reference.py", path, series, labels]))
        #expect(hd["differing"] as? Int == 0, "highdicom: \(type)")
        if TestPaths.exists(dcmqi) {
            let q = try json(Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/seg_dcmqi.py", path, labels]))
            let segments = try #require(q["segments"] as? [String: [String: Any]])
            #expect(segments.count == map.labelsPresent().filter { $0 > 0 }.count)
            for (n, s) in segments { #expect(s["differing"] as? Int == 0 && s["dice"] as? Double == 1.0, "dcmqi: \(type) segment \(n)") }
            #expect((q["affineDifference"] as? Double ?? 1) < 1e-3, "dcmqi grid: \(q["affineDifference"] ?? "-")")
        }
        // And VoxelFlow's own reader.
        #expect(SegFixtures.values(try DICOMSegmentation.read(path, reference: stack).labels) == SegFixtures.ranked(map))
    }

    @Test("VoxelFlow's BINARY and LABELMAP SEGs of the sample series read the same in highdicom and dcmqi", arguments: [DICOMSegmentationType.binary, .labelMap])
    func oursOnSample(_ type: DICOMSegmentationType) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let (map, labels) = try Self.labelFile(stack, dir: dir)
        try Self.checkOurs(type, map: map, labels: labels, stack: stack, series: SegFixtures.series, dir: dir)
    }

    @Test("VoxelFlow's FRACTIONAL SEG gives highdicom the probabilities to within 8-bit rounding")
    func oursFractional() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let g = stack.geometry()
        let map = try SegFixtures.labels(stack, values: [1, 2])
        var p = [Float](repeating: 0, count: 2 * g.voxelCount)
        for i in 0..<g.voxelCount {
            let v = Int(map.volume.voxels.value(at: i))
            if v > 0 { p[(v - 1) * g.voxelCount + i] = Float(i % 97) / 96 }
        }
        let volume = try Volume(geometry: g, voxels: .float32(p), timePoints: 2)
        try NIfTI.write(volume, to: dir + "/p.nii.gz")
        try DICOMSegmentation.writeFractional(volume, reference: stack, to: dir + "/seg.dcm")
        if TestPaths.exists("/usr/bin/dciodvfy") {
            let v = Subprocess.run(["/usr/bin/dciodvfy", dir + "/seg.dcm"])
            #expect((v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }.isEmpty, "dciodvfy: \(v.stderr.prefix(400))")
        }
        let hd = try Self.json(Subprocess.run([Self.python, TestPaths.repositoryRoot + "/scripts/oracles/seg_reference.py", dir + "/seg.dcm", SegFixtures.series, dir + "/p.nii.gz", "--fractional"]))
        #expect((hd["maxDifference"] as? Double ?? 1) <= 1.0 / 510 + 1e-6, "\(hd)")
        #expect(hd["fractionalType"] as? String == "PROBABILITY")
    }

    @Test("31 labels in touching bands: BINARY and LABELMAP SEGs read the same in highdicom, dcmqi and VoxelFlow",
          arguments: [DICOMSegmentationType.binary, .labelMap])
    func thirtyOneLabels(_ type: DICOMSegmentationType) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let volume = try stack.volume()
        let g = volume.geometry
        // Tissue above −500 HU, and every 7th row, split into 31 bands across x: every class lies on
        // every slice and touches its neighbours.
        var values = [UInt8](repeating: 0, count: g.voxelCount)
        for i in 0..<g.voxelCount where volume.scaling.apply(volume.voxels.value(at: i)) > -500 || (i / g.size.x) % 7 == 0 {
            values[i] = UInt8(1 + (i % g.size.x) * 31 / g.size.x)
        }
        let map = try LabelMap(Volume(geometry: g, voxels: .uint8(values)))
        #expect(map.labelsPresent().filter { $0 > 0 }.count == 31)
        let labels = dir + "/labels.nii.gz"
        try NIfTI.write(map.volume, to: labels)
        try Self.checkOurs(type, map: map, labels: labels, stack: stack, series: SegFixtures.series, dir: dir)
    }

    @Test("a series whose UIDs were blanked by anonymisation (the real Siemens CT of the corpus) gets no SEG, and the error says why")
    func blankedUIDs() throws {
        let series = TestPaths.sharedData + "/labelled/totalsegmentator/example_ct_dicom"
        guard TestPaths.exists(series) else { print("skipped: \(TestPaths.sharedDataMissing)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(series).stacks.first)
        let map = try LabelMap(Volume(geometry: stack.geometry(), voxels: .uint8([UInt8](repeating: 1, count: stack.geometry().voxelCount))))
        do {
            try DICOMSegmentation.write(map, reference: stack, to: dir + "/seg.dcm")
            Issue.record("a SEG was written for images without SOPInstanceUID")
        } catch let e as DICOMSeriesError {
            #expect(e.reason.contains("SOPInstanceUID") && e.path.hasPrefix(series), "\(e)")
        }
        #expect(!TestPaths.exists(dir + "/seg.dcm"))
    }
}
