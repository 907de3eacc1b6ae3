import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

/// DICOM SEG writing: decimal strings, label tables, and SEGs checked by independent tools — dciodvfy
/// (dicom3tools) validates the IOD, highdicom reads the SEG back to the label map voxel for voxel.
@Suite("DICOM SEG: decimal strings and label tables")
struct DICOMSegmentationUnitTests {
    @Test("decimal strings fit 16 characters and keep the value", arguments: [
        0.95703125, -122.02147769927979, 1.5, 0, -0.0, 1e-20, -3.0000000000000004e-17, 123456789.123456789, 0.1 + 0.2, -1e21,
    ])
    func decimalString(_ value: Double) {
        let s = DecimalString.format(value)
        #expect(s.count <= 16, "\(s)")
        let back = Double(s) ?? .nan
        #expect(abs(back - value) <= max(1e-9 * abs(value), 1e-300) || (value == 0 && back == 0), "\(value) → \(s)")
    }

    @Test("a label table reads names, colours and codes, with defaults for what is left out")
    func readsTable() throws {
        let text = #"{"labels": [{"value": 2, "name": "Soft tissue"}, {"value": 1, "name": "Liver", "color": [221, 130, 101], "category": {"scheme": "SCT", "value": "91723000", "meaning": "Anatomical Structure"}, "type": {"scheme": "SCT", "value": "10200004", "meaning": "Liver"}}]}"#
        let table = try LabelTable.parse(bytes: Array(text.utf8), path: "t.json")
        #expect(table.labels.map(\.value) == [1, 2])
        #expect(table[1]?.type == CodedConcept(scheme: "SCT", value: "10200004", meaning: "Liver"))
        #expect(table[1]?.color == [221, 130, 101])
        #expect(table[2]?.category == .tissue && table[2]?.type == .tissue && table[2]?.color.count == 3)
    }

    @Test("a bad label table names the file, line and column", arguments: [
        (#"{"labels": [{"value": 1}]}"#, "\"name\" must be"),
        (#"{"labels": [{"value": 1, "name": "a"}, {"value": 1, "name": "b"}]}"#, "listed twice"),
        (#"{"labels": [{"value": 0, "name": "a"}]}"#, "from 1 to 65535"),
        (#"{"labels": [{"value": 1, "name": "a", "color": [300, 0, 0]}]}"#, "\"color\" must be"),
        (#"{"labels": [{"value": 1, "name": "a", "type": {"scheme": "SCT"}}]}"#, "\"type\" must be"),
        (#"{"labels": [{"value": 1, "name": "a", "colour": [1, 2, 3]}]}"#, "unknown key \"colour\""),
        (#"{"label": []}"#, "expected an object with \"labels\""),
    ])
    func badTable(_ text: String, _ fragment: String) {
        do {
            _ = try LabelTable.parse(bytes: Array(text.utf8), path: "t.json")
            Issue.record("accepted \(text)")
        } catch let e as LabelTableError {
            #expect(e.description.hasPrefix("t.json:1:") && e.message.contains(fragment), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("sRGB colours become DICOM CIELab values (white, black, pure red)")
    func cieLab() {
        let white = LabelInfo(value: 1, name: "w", color: [255, 255, 255]).cieLab
        #expect(abs(white[0] - 65535) <= 1 && abs(white[1] - 32896) <= 2 && abs(white[2] - 32896) <= 2, "\(white)")
        let black = LabelInfo(value: 1, name: "k", color: [0, 0, 0]).cieLab
        #expect(black[0] == 0 && abs(black[1] - 32896) <= 1 && abs(black[2] - 32896) <= 1)
        let red = LabelInfo(value: 1, name: "r", color: [255, 0, 0]).cieLab  // L* 53.24, a* 80.09, b* 67.20
        #expect(abs(red[0] - Int(53.24 / 100 * 65535)) < 40 && abs(red[1] - Int((80.09 + 128) / 255 * 65535)) < 40)
    }
}

@Suite("DICOM SEG checked by dciodvfy and highdicom", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct DICOMSegmentationOracleTests {
    static let table = LabelTable([
        LabelInfo(value: 1, name: "Bone", color: [241, 214, 145], type: CodedConcept(scheme: "SCT", value: "272673000", meaning: "Bone")),
        LabelInfo(value: 2, name: "Soft tissue", type: CodedConcept(scheme: "SCT", value: "87784001", meaning: "Soft tissue")),
    ])

    /// Bone (> 300 HU) = 1 and soft tissue (−100…300 HU) = 2 on the stack's grid, written as NIfTI.
    static func labels(for stack: DICOMStack, in dir: String) throws -> (LabelMap, String) {
        let volume = try stack.volume()
        var values = [UInt8](repeating: 0, count: volume.voxels.count)
        for i in 0..<values.count {
            let hu = volume.scaling.apply(volume.voxels.value(at: i))
            values[i] = hu > 300 ? 1 : (hu > -100 ? 2 : 0)
        }
        let map = try LabelMap(Volume(geometry: volume.geometry, voxels: .uint8(values)))
        let path = dir + "/labels.nii.gz"
        try NIfTI.write(map.volume, to: path)
        return (map, path)
    }

    /// Writes the SEG, validates it with dciodvfy (when installed) and reads it back with highdicom.
    static func check(series: String, stack: DICOMStack) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let (map, labelsPath) = try labels(for: stack, in: dir)
        let seg = dir + "/seg.dcm"
        let frames = try DICOMSegmentation.write(map, reference: stack, table: table, to: seg)
        // Frames: one per (segment, slice) that holds the segment.
        let n = map.geometry.size.x * map.geometry.size.y
        var expected = 0
        for value in [1, 2] { for k in 0..<map.geometry.size.z where (0..<n).contains(where: { Int(map.volume.voxels.value(at: k * n + $0)) == value }) { expected += 1 } }
        #expect(frames == expected)
        if TestPaths.exists("/usr/bin/dciodvfy") {
            let v = Subprocess.run(["/usr/bin/dciodvfy", seg])
            let errors = (v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }
            #expect(errors.isEmpty, "dciodvfy: \(errors)")
        } else {
            print("skipped dciodvfy: dicom3tools not installed (scripts/install-deps.sh --test installs it)")
        }
        let python = try #require(TestPaths.oraclePython)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/seg_reference.py", seg, series, labelsPath])
        try #require(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["differing"] as? Int == 0, "highdicom's label map differs from ours: \(r.stdout.prefix(300))")
        #expect(json["frames"] as? Int == frames)
        let segments = try #require(json["segments"] as? [[String: Any]])
        #expect(segments.map { $0["label"] as? String } == ["Bone", "Soft tissue"])
        #expect(segments.map { $0["type"] as? String } == ["272673000", "87784001"])
        let h = stack.header
        #expect(json["study"] as? String == h.studyInstanceUID)
        #expect(json["patientID"] as? String == h.patientID)
        #expect(json["referencedSeries"] as? String == h.seriesInstanceUID)
    }

    @Test("a SEG of the sample CT series validates and reads back identically")
    func classicSeries() throws {
        let series = TestPaths.sampleData + "/dicom/ct_head_implicit"
        try Self.check(series: series, stack: try #require(DICOMScanner.scan(series).stacks.first))
    }

    @Test("a SEG of an oblique series validates and reads back identically")
    func obliqueSeries() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let python = try #require(TestPaths.oraclePython)
        let made = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/make_geometry_cases.py",
                                   TestPaths.sampleData + "/dicom/ct_head_implicit", dir, "oblique"])
        try #require(made.status == 0, "\(made.stderr)")
        let stack = try #require(DICOMScanner.scan(dir).stacks.first)
        #expect(stack.geometry().isOblique())
        try Self.check(series: dir, stack: stack)
    }

    @Test("a SEG of an enhanced multi-frame CT references its frames and reads back identically")
    func multiFrameSeries() throws {
        let folder = TestPaths.sharedData + "/dicom/multiframe"
        guard TestPaths.exists(folder) else { print("skipped: \(TestPaths.sharedDataMissing)"); return }
        try Self.check(series: folder, stack: try #require(DICOMScanner.scan(folder).stacks.first))
    }

    @Test("every code of the shipped label table is the one pydicom's SNOMED CT dictionary gives")
    func shippedTableCodes() throws {
        let table = try LabelTable.read(TestPaths.repositoryRoot + "/pipelines/labels/common-structures.json")
        #expect(table.labels.count >= 30)
        let python = try #require(TestPaths.oraclePython)
        let script = """
        import json, sys
        from pydicom.sr.codedict import codes
        by_value = {}
        for name in dir(codes.SCT):
            try:
                c = getattr(codes.SCT, name)
                by_value.setdefault(str(c.value), []).append(str(c.meaning).lower())
            except Exception:
                pass
        print(json.dumps(by_value))
        """
        let r = Subprocess.run([python, "-c", script])
        // pydicom lists a code under several names (Liver, LiverStructure…): the meaning must be one of them.
        let known = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String]])
        for label in table.labels {
            for code in [label.category, label.type] {
                #expect(code.scheme == "SCT")
                #expect(known[code.value]?.contains(code.meaning.lowercased()) == true, "\(label.name): SCT \(code.value) \(code.meaning) vs pydicom \(known[code.value] ?? [])")
            }
        }
    }
}
