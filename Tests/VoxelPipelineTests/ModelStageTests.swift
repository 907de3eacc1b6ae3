import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelNN
import VoxelPipeline
import VoxelSupport

/// The `segment` and `classify` stages, end to end through the command-line tool.
@Suite("Model stages")
struct ModelStageTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/nn"

    static func voxels(_ path: String) throws -> (Volume, [Int]) {
        let volume = try NIfTI.read(path).volume
        return (volume, (0..<volume.voxels.count).map { Int(volume.voxels.value(at: $0)) })
    }

    @Test("ct-head-tissue on the sample head CT: MONAI's labels voxel for voxel, on the scan's grid, close to the InVesalius masks")
    func headTissue() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/ct-head-tissue.json", "-i", TestPaths.sampleData, "-o", out, "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let (ours, labels) = try Self.voxels(out + "/cases/head/tissue.nii.gz")
        // The oracle: MONAI sliding_window_inference (ROI 64×96×96, overlap 0.5, Gaussian) on the same
        // network (the shipped weights, trained by VoxelFlow) and scaled scan, argmax (scripts/oracles/export_ct_tissue_oracle.py).
        let (monai, expected) = try Self.voxels(Self.fixtures + "/ct_head_tissue_monai_labels.nii.gz")
        #expect(ours.geometry.size == monai.geometry.size)
        #expect(ours.geometry.affine.maxAbsDifference(to: monai.geometry.affine) < 1e-4)
        let differing = zip(labels, expected).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) voxels differ from MONAI")
        // Against independent threshold masks of the same scan.
        let (_, head) = try Self.voxels(TestPaths.sampleData + "/nifti/ct_head_mask_head.nii.gz")
        let (_, bone) = try Self.voxels(TestPaths.sampleData + "/nifti/ct_head_mask_bone.nii.gz")
        let truth = zip(head, bone).map { $1 > 0 ? 2 : ($0 > 0 ? 1 : 0) }
        for (label, minimum) in [(1, 0.95), (2, 0.9)] {
            var both = 0, a = 0, b = 0
            for (x, y) in zip(labels, truth) {
                if x == label { a += 1 }
                if y == label { b += 1 }
                if x == label && y == label { both += 1 }
            }
            let dice = 2 * Double(both) / Double(a + b)
            #expect(dice >= minimum, "label \(label): Dice \(dice)")
        }
    }

    @Test("classify: PyTorch's scores for a MONAI ResNet, in the report with class names")
    func classify() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        // The fixture's first input sample (1 × 16 × 14 × 12, D × H × W) as a NIfTI volume of 12 × 14 × 16.
        let weightsPath = Self.fixtures + "/resnet_basic.safetensors"
        let weights = try Safetensors(path: weightsPath)
        let input = try weights.tensor("input", shape: [2, 1, 16, 14, 12]), output = try weights.tensor("output", shape: [2, 3])
        let inputValues = Array(input.data.prefix(16 * 14 * 12)), logits = Array(output.data.prefix(3))
        try FileManager.default.createDirectory(atPath: out + "/in", withIntermediateDirectories: true)
        let volume = try Volume(geometry: Geometry(size: SIMD3(12, 14, 16), spacing: SIMD3(1, 1, 1)),
                                voxels: .float32(inputValues))
        try NIfTI.write(volume, to: out + "/in/sample.nii.gz")
        let pipeline = try PipelineFixtures.writePipeline("""
        {
          "voxelflow": 1, "name": "classify-test",
          "inputs": { "image": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [
            { "id": "kind", "type": "classify", "source": "image",
              "network": { "type": "monai-resnet", "in": 1, "out": 3, "block": "basic", "layers": [1, 2, 1, 1],
                           "blockInplanes": [4, 8, 8, 16], "conv1Size": 3, "conv1Stride": 2 },
              "weights": "\(weightsPath)", "classNames": ["normal", "benign", "malignant"] },
            { "id": "report", "type": "write-report" }
          ]
        }
        """, in: out)
        let r = PipelineFixtures.cli(["run", pipeline, "-i", out + "/in", "-o", out + "/r", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONParser.parse(String(contentsOfFile: out + "/r/cases/sample/report.json", encoding: .utf8)).json
        let section = report["results"]?["kind"]
        let l = logits.map { Double($0) }
        let top = l.max() ?? 0
        let e = l.map { Foundation.exp($0 - top) }
        let softmax = e.map { $0 / e.reduce(0, +) }
        for (name, p) in zip(["normal", "benign", "malignant"], softmax) {
            let ours = section?["scores"]?[name]?.doubleValue ?? .nan
            #expect(abs(ours - p) <= 1e-4, "\(name): \(ours) vs PyTorch \(p)")
        }
        let best = softmax.indices.max { softmax[$0] < softmax[$1] } ?? 0
        #expect(section?["predicted"]?.stringValue == ["normal", "benign", "malignant"][best])

        // evaluate-classification reads the run's reports: the one case, its class as truth.
        let predicted = ["normal", "benign", "malignant"][best]
        try "{\"sample\": \"\(predicted)\"}".write(toFile: out + "/truth.json", atomically: true, encoding: .utf8)
        let evaluation = PipelineFixtures.cli(["evaluate-classification", out + "/r", out + "/truth.json", "--format", "json"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let json = try JSONParser.parse(evaluation.stdout).json
        #expect(json["accuracy"]?.doubleValue == 1 && json["cases"]?.doubleValue == 1)
        #expect(json["classes"] == .array(["benign", "malignant", "normal"].map { .string($0) }), "the score names are the classes")
    }

    @Test("validate refuses unusable model stages, naming the problem", arguments: [
        (#""network": {"type": "monai-unet", "in": 1, "out": 3, "channels": [4, 8, 16], "strides": [2, 2], "numResUnits": 1}, "weights": "models/ct-head-tissue.safetensors""#,
         "model.0.conv.unit0.conv.weight: expected shape [4, 1, 3, 3, 3], found [8, 1, 3, 3, 3]"),
        (#""network": {"type": "monai-unet", "in": 1, "out": 3, "channels": [8, 16, 32], "strides": [2, 2], "numResUnits": 1}, "weights": "models/ct-head-tissue.safetensors", "roi": [90, 96, 64]"#,
         "not a multiple of 4"),
        (#""network": {"type": "monai-unet", "in": 1, "out": 3, "channels": [8, 16, 32], "strides": [2, 2], "numResUnits": 1}, "weights": "models/missing.safetensors""#,
         "file not found"),
        (#""network": {"type": "monai-vnet"}, "weights": "models/ct-head-tissue.safetensors""#, "network type \"monai-vnet\" is unknown"),
    ])
    func invalid(_ parameters: String, _ message: String) throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        try FileManager.default.createDirectory(atPath: out + "/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.repositoryRoot + "/pipelines/models/ct-head-tissue/weights.safetensors",
                                         toPath: out + "/models/ct-head-tissue.safetensors")
        let pipeline = try PipelineFixtures.writePipeline("""
        {
          "voxelflow": 1, "name": "bad-model",
          "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "seg", "type": "segment", "source": "ct", \(parameters) } ]
        }
        """, in: out)
        let r = PipelineFixtures.cli(["validate", pipeline])
        #expect(r.status == 2)
        #expect((r.stdout + r.stderr).contains(message), "\(r.stdout)\(r.stderr)")
    }
}
