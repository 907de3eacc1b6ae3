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

    @Test("a cascade stage takes the 3d_lowres predictions (-prev_stage_predictions) and gives nnU-Net's labels; without them it is refused")
    func cascade() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let cascade = Self.fixtures + "/models/nnUNetPlans__3d_cascade_fullres"
        let lowres = Self.fixtures + "/expected/nnUNetPlans__3d_lowres__f0__mirror"
        let r = PipelineFixtures.cli(["nnunet-predict", "-i", Self.fixtures + "/inputs", "-o", root + "/out", "-m", cascade,
                                      "-prev_stage_predictions", lowres, "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        for name in ["same", "resamp", "aniso"] {
            let (differ, compared) = try Self.differences("\(root)/out/\(name).nii.gz", expected: "nnUNetPlans__3d_cascade_fullres__f0__mirror", case: name)
            #expect(compared > 0 && differ == 0, "\(name): \(differ) of \(compared) labels differ from nnU-Net's cascade")
        }
        let missing = PipelineFixtures.cli(["nnunet-predict", "-i", Self.fixtures + "/inputs", "-o", root + "/out2", "-m", cascade, "-q"])
        #expect(missing.status == 4 && missing.stderr.contains("prev-stage-predictions"), "\(missing.stderr)")
        // In a pipeline the stage names the earlier stage's labels; without "previous" the pipeline is refused.
        let pipeline = """
        {"voxelflow": 1, "name": "cascade",
         "inputs": {"ct": {"type": "nifti", "pattern": "*_0000.nii.gz"}},
         "stages": [{"id": "seg", "type": "nnunet", "source": "ct", "model": "\(cascade)"}]}
        """
        let path = try PipelineFixtures.writePipeline(pipeline, in: root)
        let refused = PipelineFixtures.cli(["validate", path])
        #expect(refused.status == 2 && refused.stderr.contains("previous"), "\(refused.stderr)")
    }

    @Test("a DICOM input whose modality contradicts the model's channel name is refused with both named")
    func modalityMismatch() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let folder = root + "/model"
        try FileManager.default.copyItem(atPath: Self.model, toPath: folder)
        let datasetPath = folder + "/dataset.json"
        let dataset = try String(contentsOfFile: datasetPath, encoding: .utf8).replacingOccurrences(of: "\"CT\"", with: "\"T2\"")
        try FileManager.default.removeItem(atPath: datasetPath)
        try dataset.write(toFile: datasetPath, atomically: true, encoding: .utf8)
        let pipeline = """
        {"voxelflow": 1, "name": "nnunet-modality",
         "inputs": {"scan": {"type": "dicom-series"}},
         "stages": [{"id": "seg", "type": "nnunet", "source": "scan", "model": "\(folder)", "folds": ["0"], "mirror": false}]}
        """
        let path = try PipelineFixtures.writePipeline(pipeline, in: root)
        let r = PipelineFixtures.cli(["run", path, "-i", TestPaths.sampleData + "/dicom/ct_head_implicit", "-o", root + "/out"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("T2") && r.stderr.contains("CT"), "\(r.stderr)")
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

/// The TotalSegmentator pipelines and the `combine-labels` stage they use. TotalSegmentator's weights are
/// not in the repository, so the pipelines run here on stand-in model folders (the nnU-Net fixture model
/// under TotalSegmentator's folder names): this checks the pipelines' wiring, the part mappings and the
/// outputs, not TotalSegmentator's results.
@Suite("TotalSegmentator pipelines")
struct TotalSegmentatorPipelineTests {
    static let folders = [
        "Dataset291_TotalSegmentator_part1_organs_1559subj/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres",
        "Dataset292_TotalSegmentator_part2_vertebrae_1532subj/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres",
        "Dataset293_TotalSegmentator_part3_cardiac_1559subj/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres",
        "Dataset294_TotalSegmentator_part4_muscles_1559subj/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres",
        "Dataset295_TotalSegmentator_part5_ribs_1559subj/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres",
        "Dataset297_TotalSegmentator_total_3mm_1559subj/nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres",
    ]

    /// A copy of the pipelines with stand-in models, and an archive holding the sample head CT.
    static func setUp(_ root: String) throws {
        let fm = FileManager.default
        let source = TestPaths.repositoryRoot + "/pipelines"
        try fm.createDirectory(atPath: root + "/pipelines/totalsegmentator", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/pipelines/labels", withIntermediateDirectories: true)
        for f in ["total.json", "total-fast.json"] { try fm.copyItem(atPath: "\(source)/totalsegmentator/\(f)", toPath: "\(root)/pipelines/totalsegmentator/\(f)") }
        try fm.copyItem(atPath: source + "/labels/totalsegmentator-total.json", toPath: root + "/pipelines/labels/totalsegmentator-total.json")
        for folder in folders {
            let path = "\(root)/pipelines/totalsegmentator/models/\(folder)"
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: path, withDestinationPath: NNUNetStageTests.model)
        }
        try fm.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", toPath: root + "/archive/head.nii.gz")
    }

    @Test("each part's labels are mapped into TotalSegmentator's numbering, combined, put back on the scan's grid and named in the report",
          arguments: [("total.json", [1, 2, 25, 26, 51, 52, 69, 70, 92, 93]), ("total-fast.json", [1, 2])])
    func pipeline(_ file: String, _ allowed: [Int]) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Self.setUp(root)
        let r = PipelineFixtures.cli(["run", "\(root)/pipelines/totalsegmentator/\(file)", "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let ct = try NIfTI.read(root + "/archive/head.nii.gz").volume
        let labels = try NIfTI.read(root + "/out/cases/head/head_total.nii.gz").volume
        #expect(labels.geometry.size == ct.geometry.size)
        #expect(labels.geometry.affine.maxAbsDifference(to: ct.geometry.affine) < 1e-4)
        let present = Set((0..<labels.voxels.count).map { Int(labels.voxels.value(at: $0)) }).subtracting([0])
        #expect(!present.isEmpty)
        #expect(present.isSubset(of: Set(allowed)), "\(file): labels \(present.sorted())")
        let report = try String(contentsOfFile: root + "/out/cases/head/report.json", encoding: .utf8)
        let table = try LabelTable.read(TestPaths.repositoryRoot + "/pipelines/labels/totalsegmentator-total.json")
        #expect(table.labels.count == 117)
        for value in present {
            let name = try #require(table[value]?.name)
            #expect(report.contains("\"\(name)\""), "\(file): the report names label \(value) (\(name))")
        }
    }

    @Test("combine-labels maps each source and lets later sources win where they overlap")
    func combine() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        let g = Geometry(size: SIMD3(4, 1, 1), spacing: SIMD3(1, 1, 1))
        try NIfTI.write(Volume(geometry: g, voxels: .uint8([1, 2, 0, 1])), to: root + "/archive/a_one.nii.gz")
        try NIfTI.write(Volume(geometry: g, voxels: .uint8([0, 1, 1, 3])), to: root + "/archive/a_two.nii.gz")
        let pipeline = """
        {"voxelflow": 1, "name": "combine",
         "inputs": {"one": {"type": "nifti", "pattern": "*_one.nii.gz", "as": "labels"}, "two": {"type": "nifti", "pattern": "*_two.nii.gz", "as": "labels"}},
         "stages": [
           {"id": "c", "type": "combine-labels", "sources": ["one", "two"], "mappings": [{"1": 10, "2": 20}, {"1": 300}]},
           {"id": "w", "type": "write-nifti", "source": "c", "path": "c.nii.gz"}
         ]}
        """
        let path = try PipelineFixtures.writePipeline(pipeline, in: root)
        let r = PipelineFixtures.cli(["run", path, "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try NIfTI.read(root + "/out/cases/a/c.nii.gz").volume
        // Voxel 1: two's 1 → 300 wins over one's 2 → 20; voxel 3: two's 3 is unmapped (dropped), one's 1 → 10 stays.
        #expect((0..<4).map { Int(out.voxels.value(at: $0)) } == [10, 300, 300, 10])
        #expect(out.voxelType == .uint16)
    }
}
