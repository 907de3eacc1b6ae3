import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelNN
import VoxelPipeline
import VoxelSupport

/// Stages with `when`: a classify stage routes each case to the stages that fit it.
@Suite("Conditional stages (when)")
struct ConditionalStageTests {
    static let weights = TestPaths.repositoryRoot + "/Tests/Fixtures/nn/resnet_basic.safetensors"
    static let names = ["normal", "benign", "malignant"]

    /// A pipeline that classifies, then thresholds under `conditionA` and `conditionB` and writes both results.
    static func pipeline(_ conditionA: String, _ conditionB: String) -> String {
        """
        {
          "voxelflow": 1, "name": "routing-test",
          "inputs": { "image": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [
            { "id": "kind", "type": "classify", "source": "image",
              "network": { "type": "monai-resnet", "in": 1, "out": 3, "block": "basic", "layers": [1, 2, 1, 1],
                           "blockInplanes": [4, 8, 8, 16], "conv1Size": 3, "conv1Stride": 2 },
              "weights": "\(weights)", "classNames": ["normal", "benign", "malignant"] },
            { "id": "a", "type": "threshold", "source": "image", "lower": 0, "when": \(conditionA) },
            { "id": "writeA", "type": "write-nifti", "source": "a", "path": "a.nii.gz" },
            { "id": "b", "type": "threshold", "source": "image", "lower": 0, "when": \(conditionB) },
            { "id": "writeB", "type": "write-nifti", "source": "b", "path": "b.nii.gz" },
            { "id": "report", "type": "write-report" }
          ]
        }
        """
    }

    static func item(_ json: JSON?, _ n: Int) -> JSON? {
        guard case .array(let items)? = json, n < items.count else { return nil }
        return items[n]
    }

    /// The fixture's first input as a NIfTI case, and the class PyTorch's logits choose for it.
    static func makeCase(_ folder: String) throws -> String {
        let file = try Safetensors(path: weights)
        let input = try file.tensor("input", shape: [2, 1, 16, 14, 12]), output = try file.tensor("output", shape: [2, 3])
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let volume = try Volume(geometry: Geometry(size: SIMD3(12, 14, 16), spacing: SIMD3(1, 1, 1)), voxels: .float32(Array(input.data.prefix(16 * 14 * 12))))
        try NIfTI.write(volume, to: folder + "/sample.nii.gz")
        let logits = Array(output.data.prefix(3))
        return names[logits.indices.max { logits[$0] < logits[$1] } ?? 0]
    }

    @Test("Only the branch whose condition holds runs; its dependants follow it; the manifest and report say why")
    func routing() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let predicted = try Self.makeCase(dir + "/in")
        let other = Self.names.first { $0 != predicted } ?? ""
        let path = try PipelineFixtures.writePipeline(Self.pipeline(#"{"stage": "kind", "predicted": "\#(predicted)"}"#,
                                                                    #"{"stage": "kind", "predicted": ["\#(other)"]}"#), in: dir)
        let r = PipelineFixtures.cli(["run", path, "-i", dir + "/in", "-o", dir + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: dir + "/out/cases/sample/a.nii.gz"))
        #expect(!fm.fileExists(atPath: dir + "/out/cases/sample/b.nii.gz"))
        let line = try #require(try PipelineFixtures.manifest(dir + "/out").first).json
        #expect(line["status"]?.stringValue == "ok")
        let skipped = line["skipped"]
        #expect(Self.item(skipped, 0)?["stage"]?.stringValue == "b")
        #expect(Self.item(skipped, 0)?["reason"]?.stringValue == "kind predicted \"\(predicted)\", not \"\(other)\"")
        #expect(Self.item(skipped, 1)?["stage"]?.stringValue == "writeB")
        #expect(Self.item(skipped, 1)?["reason"]?.stringValue == "it takes \"b\", which was skipped")
        let report = try JSONParser.parse(String(contentsOfFile: dir + "/out/cases/sample/report.json", encoding: .utf8)).json
        #expect(report["skipped"] == skipped)
        #expect(report["results"]?["kind"]?["predicted"]?.stringValue == predicted)
    }

    @Test("Score thresholds: a score below the threshold skips, at or above runs")
    func scores() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let predicted = try Self.makeCase(dir + "/in")
        let path = try PipelineFixtures.writePipeline(Self.pipeline(#"{"stage": "kind", "score": "\#(predicted)", "atLeast": 0}"#,
                                                                    #"{"stage": "kind", "score": "\#(predicted)", "atLeast": 1.5}"#), in: dir)
        let r = PipelineFixtures.cli(["run", path, "-i", dir + "/in", "-o", dir + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/cases/sample/a.nii.gz"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/cases/sample/b.nii.gz"))
        let line = try #require(try PipelineFixtures.manifest(dir + "/out").first).json
        #expect(Self.item(line["skipped"], 0)?["reason"]?.stringValue?.hasPrefix("kind scored \"\(predicted)\" ") == true)
        #expect(Self.item(line["skipped"], 0)?["reason"]?.stringValue?.hasSuffix(", below 1.5") == true)
    }

    @Test("validate checks conditions with line and column", arguments: [
        (#"{"stage": "image", "predicted": "normal"}"#, "stages[1].when.stage", "\"image\" is not an earlier stage"),
        (#"{"stage": "kind", "predicted": "normall"}"#, "stages[1].when.predicted", "\"normall\" is not a class of \"kind\""),
        (#"{"stage": "kind", "predicted": "normal", "score": "normal", "atLeast": 1}"#, "stages[1].when", "give either \"predicted\""),
        (#"{"stage": "kind", "predicted": []}"#, "stages[1].when.predicted", "a non-empty array"),
        (#"{"stage": "kind", "predicted": "normal", "because": 1}"#, "stages[1].when.because", "unknown key \"because\""),
        (#"{"stage": "kind", "score": "benign"}"#, "stages[1].when", "give either"),
    ])
    func validation(condition: String, path: String, message: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let file = try PipelineFixtures.writePipeline(Self.pipeline(condition, #"{"stage": "kind", "predicted": "normal"}"#), in: dir)
        let r = PipelineFixtures.cli(["validate", file])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        let output = r.stdout + r.stderr
        #expect(output.contains(path) && output.contains(message), "\(output)")
        #expect(output.contains("pipeline.json:9:"), "the line of the condition (line 9) is named: \(output)")
    }

    @Test("A condition on a stage that is not a classifier is refused by name")
    func notAClassifier() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let text = Self.pipeline(#"{"stage": "kind", "predicted": "normal"}"#, #"{"stage": "a", "predicted": "normal"}"#)
        let file = try PipelineFixtures.writePipeline(text, in: dir)
        let r = PipelineFixtures.cli(["validate", file])
        #expect(r.status == 2)
        #expect((r.stdout + r.stderr).contains("\"a\" is not a classify stage"), "\(r.stdout)\(r.stderr)")
    }
}
