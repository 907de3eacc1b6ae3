import Foundation
import Testing
import TestSupport
import VoxelNN
import VoxelSupport

/// Augmentations written as stages of a training pipeline: the same training as the section's `augmentation`
/// list, refused outside training, and kept out of the preprocessing and the inference pipeline.
@Suite("Augmentation stages")
struct AugmentationStageTests {
    static let example = TestPaths.repositoryRoot + "/pipelines/training/ct-head-bone.json"

    /// The example training pipeline with its augmentation list moved into stages.
    static func stageVariant() throws -> String {
        var text = try String(contentsOfFile: example, encoding: .utf8)
        let list = #"""
            "augmentation": [
              { "type": "flip", "p": 0.5, "axes": [0] },
              { "type": "gamma", "p": 0.3, "range": [0.8, 1.25] }
            ]
        """#
        let start = try #require(text.range(of: "\"augmentation\": ["))
        let end = try #require(text.range(of: "]\n  }\n}", range: start.upperBound..<text.endIndex))
        #expect(text[start.lowerBound..<end.upperBound].filter { $0 == "{" }.count == 2, "the example's list is the two augmentations \(list)")
        text.replaceSubrange(start.lowerBound..<end.lowerBound, with: "\"augmentation\": [")
        let stages = """
            { "id": "bone3mm", "type": "resample-to", "source": "bone", "reference": "ct3mm" },
            { "id": "flipped", "type": "random-flip", "source": "scaled", "p": 0.5, "axes": [0] },
            { "id": "brighter", "type": "random-gamma", "source": "flipped", "p": 0.3, "range": [0.8, 1.25] }
        """
        let anchor = try #require(text.range(of: #"{ "id": "bone3mm", "type": "resample-to", "source": "bone", "reference": "ct3mm" }"#))
        text.replaceSubrange(anchor, with: stages.trimmingCharacters(in: .whitespaces))
        return text
    }

    @Test("augmentation stages train exactly as the same augmentation list: the same weights, bit for bit")
    func sameAsSection() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let variant = root + "/stages.json"
        try Self.stageVariant().write(toFile: variant, atomically: true, encoding: .utf8)
        #expect(PipelineFixtures.cli(["validate", variant, "-q"]).status == 0)
        let a = PipelineFixtures.cli(["train", Self.example, "-i", TestPaths.sampleData, "-o", root + "/list", "--jobs", "2"])
        let b = PipelineFixtures.cli(["train", variant, "-i", TestPaths.sampleData, "-o", root + "/stages", "--jobs", "2"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        let x = try Safetensors(path: root + "/list/checkpoints/best.safetensors"), y = try Safetensors(path: root + "/stages/checkpoints/best.safetensors")
        #expect(Set(x.entries.keys) == Set(y.entries.keys))
        for name in x.entries.keys {
            #expect(try x.tensor(name).data.map(\.bitPattern) == y.tensor(name).data.map(\.bitPattern), "\(name)")
        }
        // The generated inference pipeline leaves the augmentations out, and `voxelflow run` refuses the training
        // pipeline (as it refuses every training pipeline; the runner would refuse the augmentation stage too).
        let inference = try String(contentsOfFile: root + "/stages/inference.json", encoding: .utf8)
        #expect(!inference.contains("random-flip") && !inference.contains("random-gamma") && inference.contains("\"segment\""))
        let refused = PipelineFixtures.cli(["run", variant, "-i", TestPaths.sampleData, "-o", root + "/run"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is a training pipeline"), "\(refused.stderr)")
    }

    @Test("augmentation stages are refused outside training pipelines and where a preprocessing stage would use them", arguments: [
        (false, #"{ "id": "aug", "type": "random-noise", "source": "ct" }, { "id": "w", "type": "write-nifti", "source": "ct" }"#,
         "\"random-noise\" is a training augmentation: it runs only in `voxelflow train`"),
        (true, #"{ "id": "aug", "type": "random-noise", "source": "ct" }"#,
         "an augmentation stage takes the training image \"scaled\" or an earlier augmentation stage, not \"ct\""),
        (true, #"{ "id": "aug", "type": "random-noise", "source": "scaled" }, { "id": "later", "type": "gaussian-smooth", "source": "aug", "sigma": [1, 1, 1] }"#,
         "it takes \"aug\", an augmentation stage"),
    ])
    func refused(_ training: Bool, _ stages: String, _ message: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let section = training ? #", "training": { "image": "scaled", "label": "bone", "network": { "type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8], "strides": [2] } }"# : ""
        let pipeline = try PipelineFixtures.writePipeline("""
        {
          "voxelflow": 1, "name": "augmented",
          "inputs": { "ct": { "type": "nifti", "pattern": "nifti/ct_*_hu.nii.gz" }, "bone": { "type": "nifti", "pattern": "nifti/ct_*_mask_bone.nii.gz", "as": "labels" } },
          "stages": [ { "id": "scaled", "type": "scale-intensity-range", "source": "ct", "aMin": -1000, "aMax": 2000 }, \(stages) ]\(section)
        }
        """, in: root)
        let r = PipelineFixtures.cli(["validate", pipeline])
        #expect(r.status == 2)
        #expect((r.stdout + r.stderr).contains(message), "\(r.stdout)\(r.stderr)")
    }
}
