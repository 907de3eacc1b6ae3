import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

/// TID 1500 measurement reports on a SEG of the sample CT, read back by highdicom and checked against
/// measurements highdicom and pydicom make on their own (scripts/oracles/sr_reference.py).
@Suite("DICOM SR measurement reports (TID 1500) checked with highdicom and dciodvfy")
struct DICOMMeasurementReportTests {
    static func json(_ r: Subprocess.Result) throws -> [String: Any] {
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    /// A BINARY SEG of bone (> 300 HU, label 4) and soft tissue (−100…300 HU, label 9) named from a table.
    static func makeSEG(_ stack: DICOMStack, dir: String) throws -> String {
        let map = try SegFixtures.labels(stack, values: [4, 9])
        let table = try LabelTable.parse(bytes: Array(#"{"labels": [{"value": 4, "name": "Bone", "type": {"scheme": "SCT", "value": "272673000", "meaning": "Bone"}}, {"value": 9, "name": "Soft tissue", "type": {"scheme": "SCT", "value": "85756007", "meaning": "Tissue"}}]}"#.utf8), path: "inline")
        let seg = dir + "/seg.dcm"
        try DICOMSegmentation.write(map, reference: stack, table: table, to: seg)
        return seg
    }

    @Test("volumes and HU statistics per segment equal highdicom's own measurement; references, units, derivations and study are right; dciodvfy finds no error")
    func reportReadByHighdicom() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try DICOMSeriesChoice.load(SegFixtures.series, selector: nil)
        let seg = try Self.makeSEG(stack, dir: dir)
        let measurements = try DICOMMeasurementReport.measure(seg: seg, reference: stack, image: try stack.volume())
        #expect(measurements.map(\.segment) == [1, 2])
        #expect(measurements.map(\.label) == ["Bone", "Soft tissue"])
        #expect(measurements[0].finding == CodedConcept(scheme: "SCT", value: "272673000", meaning: "Bone"))
        let sr = dir + "/sr.dcm"
        try DICOMMeasurementReport.write(measurements, seg: seg, reference: stack, to: sr)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["seg.dcm", "sr.dcm"])

        if TestPaths.exists("/usr/bin/dciodvfy") {
            let v = Subprocess.run(["/usr/bin/dciodvfy", sr])
            let errors = (v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }
            #expect(errors.isEmpty, "dciodvfy: \(errors.prefix(5))")
        }
        guard let python = TestPaths.oraclePython else {
            print("skipped: highdicom check: \(TestPaths.oracleMissing)")
            return
        }
        let o = try Self.json(Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/sr_reference.py", sr, seg, SegFixtures.series]))
        let report = try #require(o["sr"] as? [String: Any]), segInfo = try #require(o["seg"] as? [String: Any])
        #expect(report["sop_class"] as? String == "1.2.840.10008.5.1.4.1.1.88.22")  // Enhanced SR
        #expect(report["study"] as? String == segInfo["study"] as? String)
        #expect((report["evidence"] as? [String]) == [segInfo["instance"] as? String].compactMap { $0 })
        let groups = try #require(o["groups"] as? [[String: Any]])
        let reference = try #require(o["reference"] as? [String: [String: Double]])
        try #require(groups.count == 2)
        for (group, expected) in zip(groups, measurements) {
            #expect(group["tracking_identifier"] as? String == expected.label)
            #expect(group["segment"] as? Int == expected.segment)
            #expect(group["seg_instance"] as? String == segInfo["instance"] as? String)
            #expect(group["finding"] as? String == expected.finding.value)
            let r = try #require(reference[String(expected.segment)])
            let items = try #require(group["measurements"] as? [[String: Any]])
            func value(_ name: String, _ derivation: String?) -> Double? {
                items.first { $0["name"] as? String == name && $0["derivation"] as? String == derivation }?["value"] as? Double
            }
            let volume = try #require(value("Volume", nil))
            #expect(abs(volume - (r["volume"] ?? 0)) <= 1e-6 * max(1, volume), "volume of segment \(expected.segment)")
            #expect(Double(expected.voxels) == r["voxels"])
            for (derivation, key) in [("Mean", "mean"), ("Standard Deviation", "sd"), ("Minimum", "min"), ("Maximum", "max")] {
                let ours = try #require(value("Attenuation Coefficient", derivation), "\(derivation) of segment \(expected.segment)")
                let theirs = try #require(r[key])
                #expect(abs(ours - theirs) <= 1e-4 * max(1, abs(theirs)), "\(derivation) of segment \(expected.segment): \(ours) vs \(theirs)")
            }
            let units = Set(items.compactMap { $0["unit"] as? String })
            #expect(units == ["mm3", "[hnsf'U]"])
        }
    }

    @Test("volumes only, and a SEG that does not segment the series is refused by name")
    func volumesOnlyAndWrongSeries() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try DICOMSeriesChoice.load(SegFixtures.series, selector: nil)
        let seg = try Self.makeSEG(stack, dir: dir)
        let volumes = try DICOMMeasurementReport.measure(seg: seg, reference: stack, image: nil)
        #expect(volumes.allSatisfy { $0.mean == nil && $0.volume > 0 })
        let voxel = stack.geometry().spacing.x * stack.geometry().spacing.y * stack.geometry().spacing.z
        #expect(volumes.allSatisfy { abs($0.volume - Double($0.voxels) * voxel) < 1e-9 })
        try DICOMMeasurementReport.write(volumes, seg: seg, reference: stack, to: dir + "/volumes.dcm")
        #expect(FileManager.default.fileExists(atPath: dir + "/volumes.dcm"))

        let other = try DICOMSeriesChoice.load(TestPaths.sampleData + "/dicom/CT_small.dcm", selector: nil)
        #expect(throws: DICOMSeriesError.self) { try DICOMMeasurementReport.measure(seg: seg, reference: other, image: nil) }
        #expect(throws: DICOMSeriesError.self) { try DICOMMeasurementReport.write([], seg: seg, reference: stack, to: dir + "/none.dcm") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.dcm"))
    }
}
