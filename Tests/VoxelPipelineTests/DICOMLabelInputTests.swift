import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// `dicom-labels` inputs: the SEG or RTSTRUCT of a case's series, found in the archive by the series it
/// refers to, as a label map on the series' grid.
@Suite("dicom-labels inputs: a series' SEG or RTSTRUCT as the case's label map")
struct DICOMLabelInputTests {
    static let pipeline = """
    {
      "voxelflow": 1, "name": "seg-statistics",
      "inputs": { "ct": { "type": "dicom-series", "modality": ["CT"] }, "seg": { "type": "dicom-labels", "of": "ct" } },
      "stages": [
        { "id": "stats", "type": "label-statistics", "labels": "seg", "image": "ct" },
        { "id": "labels", "type": "write-nifti", "source": "seg", "path": "labels.nii.gz" },
        { "id": "report", "type": "write-report" }
      ]
    }
    """

    /// An archive with the sample series and, beside it, `object` written by `write` (SEG or RTSTRUCT).
    static func archive(_ root: String, write: (LabelMap, DICOMStack, String) throws -> Void) throws -> LabelMap {
        let archive = root + "/archive"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/dicom/ct_head_implicit", toPath: archive + "/series")
        let stack = try #require(DICOMScanner.scan(archive + "/series").stacks.first)
        let volume = try stack.volume()
        var values = [UInt8](repeating: 0, count: volume.voxels.count)
        for i in 0..<values.count {
            let hu = volume.scaling.apply(volume.voxels.value(at: i))
            values[i] = hu > 300 ? 1 : (hu > -100 ? 2 : 0)
        }
        let map = try LabelMap(Volume(geometry: volume.geometry, voxels: .uint8(values)))
        try write(map, stack, archive + "/labels.dcm")
        try Data(pipeline.utf8).write(to: URL(fileURLWithPath: root + "/p.json"))
        return map
    }

    @Test("a case's SEG and RTSTRUCT become its label map on the series grid, and the statistics count its voxels", arguments: ["seg", "rtstruct"])
    func labelInput(_ kind: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let map = try Self.archive(root) { map, stack, path in
            if kind == "seg" { try DICOMSegmentation.write(map, reference: stack, to: path) } else { try DICOMRTStruct.write(map, reference: stack, to: path) }
        }
        let r = PipelineFixtures.cli(["run", root + "/p.json", "-i", root + "/archive", "-o", root + "/out", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        let caseDir = root + "/out/cases/INV3-CRANIUM_CT1"
        let written = try NIfTI.read(caseDir + "/labels.nii.gz").volume
        #expect(written.geometry.affine.maxAbsDifference(to: map.geometry.affine) < 1e-4)
        #expect((0..<written.voxels.count).allSatisfy { written.voxels.value(at: $0) == map.volume.voxels.value(at: $0) })
        let report = try JSONParser.parse(String(contentsOfFile: caseDir + "/report.json", encoding: .utf8))
        #expect(report.member("inputs")?.value.member("seg")?.value.member("file")?.value.string == "labels.dcm")
        // The archive account says which case used the object.
        let inventory = try String(contentsOfFile: root + "/out/inputs.jsonl", encoding: .utf8)
        #expect(inventory.contains(#""file":"labels.dcm","status":"used""#), "\(inventory.prefix(400))")
    }

    @Test("a series without a SEG or RTSTRUCT fails with the reason; the validator checks what \"of\" names")
    func missingAndInvalid() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        _ = try Self.archive(root) { _, _, _ in }
        let r = PipelineFixtures.cli(["run", root + "/p.json", "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 4)
        let manifest = try String(contentsOfFile: root + "/out/manifest.jsonl", encoding: .utf8)
        #expect(manifest.contains("no DICOM SEG or RTSTRUCT in the archive refers to series"), "\(manifest.prefix(500))")
        let bad = Self.pipeline.replacingOccurrences(of: #""of": "ct""#, with: #""of": "cta""#)
        try Data(bad.utf8).write(to: URL(fileURLWithPath: root + "/bad.json"))
        let v = PipelineFixtures.cli(["validate", root + "/bad.json"])
        #expect(v.status == 2 && v.stderr.contains("inputs.seg.of") && v.stderr.contains("no input \"cta\""), "\(v.stderr)")
    }

    @Test("a label table inline in a pipeline names the segments; a bad inline table is reported at its line and column")
    func inlineLabelTable() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let pipeline = """
        {
          "voxelflow": 1, "name": "inline-table",
          "inputs": { "ct": { "type": "dicom-series", "modality": ["CT"] } },
          "stages": [
            { "id": "bone", "type": "threshold", "source": "ct", "lower": 300 },
            { "id": "seg", "type": "write-dicom-seg", "source": "bone", "reference": "ct", "path": "bone.dcm",
              "labelTable": { "labels": [ { "value": 1, "name": "Skull", "color": [250, 240, 200] } ] } }
          ]
        }
        """
        try Data(pipeline.utf8).write(to: URL(fileURLWithPath: root + "/p.json"))
        let r = PipelineFixtures.cli(["run", root + "/p.json", "-i", TestPaths.sampleData + "/dicom/ct_head_implicit", "-o", root + "/out", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        let stack = try #require(DICOMScanner.scan(TestPaths.sampleData + "/dicom/ct_head_implicit").stacks.first)
        let seg = try DICOMSegmentation.read(root + "/out/cases/INV3-CRANIUM_CT1/bone.dcm", reference: stack)
        #expect(seg.table.labels.map(\.name) == ["Skull"] && seg.table[1]?.color == [250, 240, 200])
        // The color's fourth line in the file: the inline table's own error, at its own position.
        let bad = pipeline.replacingOccurrences(of: "[250, 240, 200]", with: "[250, 240, 999]")
        try Data(bad.utf8).write(to: URL(fileURLWithPath: root + "/bad.json"))
        let v = PipelineFixtures.cli(["validate", root + "/bad.json"])
        #expect(v.status == 2 && v.stderr.contains("bad.json:7:") && v.stderr.contains("stages[1].labelTable") && v.stderr.contains("\"color\" must be"), "\(v.stderr)")
    }
}
