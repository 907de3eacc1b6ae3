import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelSupport

/// The models shipped in `pipelines/models/`, run through their inference pipelines exactly as a user runs them,
/// and judged against reference masks of a head the model never saw in training.
@Suite("Shipped models")
struct ShippedModelTests {
    /// Copies `file` into `ROOT/archive/name` and runs the shipped pipeline `pipeline` on that archive into `ROOT/out`.
    static func runOn(_ file: String, as name: String, in root: String, pipeline: String) throws {
        let target = "\(root)/archive/\(name)"
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: file, toPath: target)
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/" + pipeline, "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Dice of the non-zero voxels of two masks on one grid, counted here (independently of `VoxelMetrics`).
    static func dice(_ a: Volume, _ b: Volume) throws -> Double {
        #expect(a.geometry.size == b.geometry.size)
        let x = a.physicalFloats(), y = b.physicalFloats()
        var both = 0, na = 0, nb = 0
        for n in x.indices {
            let p = x[n] != 0, q = y[n] != 0
            if p { na += 1 }
            if q { nb += 1 }
            if p && q { both += 1 }
        }
        return na + nb == 0 ? 1 : 2 * Double(both) / Double(na + nb)
    }

    /// Minimum Dice per scan: the held-out values of the model card (0.933, 0.944, 0.913) less 0.005, so a change
    /// of the model, its pipeline or the engine that costs accuracy fails here.
    @Test("brain extraction: the held-out MNI152 head at 2×2×3 mm LPS, oblique sagittal and with bias field and gamma",
          arguments: [("mni152_lps-2x2x3", 0.928), ("mni152_oblique-sagittal", 0.938), ("mni152_bias-gamma", 0.907)])
    func brainExtraction(_ scan: String, _ minimumDice: Double) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Self.runOn("\(TestPaths.sampleData)/nifti/t1/\(scan).nii.gz", as: "\(scan).nii.gz", in: root, pipeline: "brain-extraction.json")
        let mask = try NIfTI.read("\(root)/out/cases/\(scan)/brain_mask.nii.gz").volume
        let reference = try NIfTI.read("\(TestPaths.sampleData)/nifti/t1-brainmask/\(scan).nii.gz").volume
        // The mask is written on the scan's own grid: same size, same voxel-to-world map.
        let grid = try GridComparison(mask, against: reference)
        #expect(mask.geometry.size == reference.geometry.size && grid.affineError < 1e-3)
        #expect(grid.comparedVoxels == mask.geometry.size.x * mask.geometry.size.y * mask.geometry.size.z)
        let d = try Self.dice(mask, reference)
        #expect(d >= minimumDice, "Dice \(d) against the held-out reference mask")
        // The report carries the brain volume, named by the model's label table.
        let report = try String(contentsOfFile: "\(root)/out/cases/\(scan)/report.json", encoding: .utf8)
        #expect(report.contains("\"Brain\""))
    }

    /// Dice of one class between a label volume and a reference label array.
    static func dice(_ labels: [Float], _ truth: [Int], label: Int) -> Double {
        var both = 0, a = 0, b = 0
        for (x, y) in zip(labels, truth) {
            let p = Int(x) == label, q = y == label
            if p { a += 1 }
            if q { b += 1 }
            if p && q { both += 1 }
        }
        return 2 * Double(both) / Double(a + b)
    }

    /// The head CT model on the three CTs of other body regions it was not trained on. The reference is the label
    /// definition itself (the InVesalius HU ranges: head −142…2986, bone 226…3071), drawn here from the HU.
    /// Minimum Dice: the model card's values less 0.005.
    @Test("ct-head-tissue on held-out CTs of the corpus: the model card's Dice per class",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: [("abdomen", "labelled/totalsegmentator/example_ct.nii.gz", 0.949, 0.465),
                      ("chest", "labelled/slicerio_chest/ct_chest.nii.gz", 0.849, 0.294),
                      ("lung", "labelled/pyradiomics/lung1_ct.nii.gz", 0.923, 0.587)])
    func headTissueHeldOut(_ name: String, _ file: String, _ minimumTissue: Double, _ minimumBone: Double) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Self.runOn("\(TestPaths.sharedData)/\(file)", as: "nifti/ct_\(name)_hu.nii.gz", in: root, pipeline: "ct-head-tissue.json")
        let hu = try NIfTI.read("\(root)/archive/nifti/ct_\(name)_hu.nii.gz").volume.physicalFloats()
        let truth = hu.map { v in (226...3071).contains(v) ? 2 : ((-142...2986).contains(v) ? 1 : 0) }
        let labels = try NIfTI.read("\(root)/out/cases/\(name)/tissue.nii.gz").volume.physicalFloats()
        #expect(labels.count == truth.count)
        let tissue = Self.dice(labels, truth, label: 1), bone = Self.dice(labels, truth, label: 2)
        #expect(tissue >= minimumTissue, "soft tissue Dice \(tissue)")
        #expect(bone >= minimumBone, "bone Dice \(bone)")
    }

    /// The class the routing pipeline's classify stage (`kind`) gave a case, from its report.
    static func predicted(_ out: String, _ id: String) throws -> String? {
        let report = try JSONParser.parse(String(contentsOfFile: "\(out)/cases/\(id)/report.json", encoding: .utf8)).json
        return report["results"]?["kind"]?["predicted"]?.stringValue
    }

    @Test("route-by-scan-type: the head CT goes to the head CT model (MONAI's labels), a T1 MRI to brain extraction; each skips the other branch")
    func routing() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let archive = root + "/archive"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", toPath: archive + "/head_ct.nii.gz")
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/t1/mni152_lps-2x2x3.nii.gz", toPath: archive + "/t1.nii.gz")
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/route-by-scan-type.json", "-i", archive, "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.predicted(root + "/out", "head_ct") == "ct-head")
        #expect(try Self.predicted(root + "/out", "t1") == "t1-mr")
        let files = PipelineFixtures.tree(root + "/out/cases")
        #expect(files.keys.contains("head_ct/tissue.nii.gz") && !files.keys.contains("head_ct/brain_mask.nii.gz"))
        #expect(files.keys.contains("t1/brain_mask.nii.gz") && !files.keys.contains("t1/tissue.nii.gz"))
        // The routed CT branch is the head CT model: MONAI's labels voxel for voxel.
        let tissue = try NIfTI.read(root + "/out/cases/head_ct/tissue.nii.gz").volume.physicalFloats()
        let monai = try NIfTI.read(TestPaths.repositoryRoot + "/Tests/Fixtures/nn/ct_head_tissue_monai_labels.nii.gz").volume.physicalFloats()
        #expect(tissue == monai)
        // The routed brain branch is the brain-extraction pipeline: the same Dice floor as its own test.
        let mask = try NIfTI.read(root + "/out/cases/t1/brain_mask.nii.gz").volume
        let reference = try NIfTI.read(TestPaths.sampleData + "/nifti/t1-brainmask/mni152_lps-2x2x3.nii.gz").volume
        #expect(try Self.dice(mask, reference) >= 0.928)
        let manifest = try PipelineFixtures.manifest(root + "/out")
        let ct = try #require(manifest.first { $0.member("case")?.value.string == "head_ct" })
        #expect(ct.json.serialized(pretty: false).contains("kind predicted \\\"ct-head\\\", not \\\"t1-mr\\\""), "\(ct.json.serialized(pretty: false))")
    }

    /// The scan classifier on the corpus scans it never saw in training (its model card's table).
    @Test("scan classifier on held-out corpus scans: the classes of its model card",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: [("brain2_t1c", "labelled/pyradiomics/brain2_t1c.nii.gz", "t1-mr"), ("lung_ct", "labelled/pyradiomics/lung1_ct.nii.gz", "other"),
                      ("spine_ct", "labelled/tptbox/sub-ct_label-22_ct.nii.gz", "other"), ("abdomen_mr", "labelled/totalsegmentator/example_mr_sm.nii.gz", "other")])
    func scanClassifierHeldOut(_ id: String, _ file: String, _ expected: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Self.runOn("\(TestPaths.sharedData)/\(file)", as: "\(id).nii.gz", in: root, pipeline: "route-by-scan-type.json")
        #expect(try Self.predicted(root + "/out", id) == expected)
    }
}
