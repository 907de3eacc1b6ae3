import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// `voxelflow nnunet-predict` and the `nnunet` pipeline stage on the nnU-Net fixture model folders
/// (Tests/Fixtures/nnunet, made by scripts/oracles/make_nnunet_fixtures.py with nnU-Net itself).
@Suite("nnU-Net predict command and stage")
struct NNUNetStageTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/nnunet"
    static let model = fixtures + "/models/nnUNetPlans__3d_fullres"

    /// How many of the voxels where nnU-Net's top-2 margin is ≥ 1e-3 have other labels in `path` than in nnU-Net's `expected` run.
    static func differences(_ path: String, expected: String, case name: String) throws -> (differ: Int, compared: Int) {
        let ours = try NIfTI.read(path).volume
        let theirs = try NIfTI.read("\(fixtures)/expected/\(expected)/\(name).nii.gz").volume
        let clear = try NIfTI.read("\(fixtures)/expected/\(expected)/\(name)_clear.nii.gz").volume
        #expect(ours.geometry.affine.maxAbsDifference(to: theirs.geometry.affine) < 1e-4)
        var differ = 0, compared = 0
        for v in 0..<ours.geometry.voxelCount where clear.voxels.value(at: v) != 0 {
            compared += 1
            if ours.voxels.value(at: v) != theirs.voxels.value(at: v) { differ += 1 }
        }
        return (differ, compared)
    }

    @Test("nnunet-predict writes nnU-Net's labels for every case with the dataset's label names; one bad case does not stop the others")
    func predictCommand() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let input = root + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for name in ["same", "aniso"] { try FileManager.default.copyItem(atPath: "\(Self.fixtures)/inputs/\(name)_0000.nii.gz", toPath: "\(input)/\(name)_0000.nii.gz") }
        try FileManager.default.copyItem(atPath: "\(Self.fixtures)/inputs/same_0000.nii.gz", toPath: "\(input)/broken_0001.nii.gz")
        let r = PipelineFixtures.cli(["nnunet-predict", "-i", input, "-o", root + "/out", "-m", Self.model, "-f", "0", "--disable-tta"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("broken") && r.stderr.contains("broken_0000.nii.gz"), "\(r.stderr)")
        for name in ["same", "aniso"] {
            let (differ, compared) = try Self.differences("\(root)/out/\(name).nii.gz", expected: "nnUNetPlans__3d_fullres__f0__nomirror", case: name)
            #expect(compared > 0 && differ == 0, "\(name): \(differ) of \(compared) labels differ from nnU-Net")
            let table = try LabelTable.read("\(root)/out/\(name).labels.json")
            #expect(table.labels.map(\.name) == ["soft_tissue", "bone"])
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/out/broken.nii.gz"))
        // Outputs are not replaced without --force.
        let again = PipelineFixtures.cli(["nnunet-predict", "-i", input, "-o", root + "/out", "-m", Self.model, "-f", "0", "--disable-tta"])
        #expect(again.status == 3, "\(again.stderr)")
    }

    @Test("a model folder that does not fit is refused with the file and reason named")
    func refusals() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let missing = PipelineFixtures.cli(["nnunet-predict", "-i", Self.fixtures + "/inputs", "-o", root + "/out", "-m", root + "/nowhere"])
        #expect(missing.status == 2 && missing.stderr.contains("nowhere"), "\(missing.stderr)")
        let badFold = PipelineFixtures.cli(["nnunet-predict", "-i", Self.fixtures + "/inputs", "-o", root + "/out", "-m", Self.model, "-f", "7"])
        #expect(badFold.status == 2 && badFold.stderr.contains("fold 7"), "\(badFold.stderr)")
    }

    @Test("the nnunet stage gives the same label map as nnunet-predict, on the source's grid, with the model's label names")
    func stage() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/archive/c1", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.fixtures)/inputs/resamp_0000.nii.gz", toPath: root + "/archive/c1/ct.nii.gz")
        let pipeline = """
        {"voxelflow": 1, "name": "nnunet-test",
         "inputs": {"ct": {"type": "nifti", "pattern": "*/ct.nii.gz"}},
         "stages": [
           {"id": "seg", "type": "nnunet", "source": "ct", "model": "\(Self.model)", "folds": ["0", "1"], "mirror": false},
           {"id": "write", "type": "write-nifti", "source": "seg", "path": "seg.nii.gz"}
         ]}
        """
        let path = try PipelineFixtures.writePipeline(pipeline, in: root)
        let r = PipelineFixtures.cli(["run", path, "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let written = try #require(PipelineFixtures.tree(root + "/out/cases").keys.first { $0.hasSuffix("seg.nii.gz") })
        let (differ, compared) = try Self.differences("\(root)/out/cases/\(written)", expected: "nnUNetPlans__3d_fullres__f01__nomirror", case: "resamp")
        #expect(compared > 0 && differ == 0, "\(differ) of \(compared) labels differ from nnU-Net")
    }
}
