import Foundation
import Testing
import TestSupport
import VoxelNN
import VoxelPipeline
import VoxelSupport

/// `voxelflow train` with a classifier network: whole volumes and a class table, test predictions that the
/// generated inference pipeline reproduces through `classify`, running statistics saved, and the checks of the
/// training section.
@Suite("voxelflow train: classifiers", .serialized)
struct ClassifierTrainingTests {
    /// An archive of six real scans from the sample data in three classes, and its class table.
    static func archive(_ root: String) throws -> String {
        let archive = root + "/archive"
        try FileManager.default.createDirectory(atPath: archive + "/scans", withIntermediateDirectories: true)
        let files = [("ct", "nifti/ct_head_hu.nii.gz", "ct"), ("bone", "nifti/ct_head_mask_bone.nii.gz", "mask"),
                     ("head", "nifti/ct_head_mask_head.nii.gz", "mask"), ("lps", "nifti/t1/mni152_lps-2x2x3.nii.gz", "mr"),
                     ("oblique", "nifti/t1/mni152_oblique-sagittal.nii.gz", "mr"), ("bias", "nifti/t1/mni152_bias-gamma.nii.gz", "mr")]
        var table = "case,class\n"
        for (id, path, cls) in files {
            try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/" + path, toPath: "\(archive)/scans/\(id).nii.gz")
            table += "\(id),\(cls)\n"
        }
        try table.write(toFile: archive + "/classes.csv", atomically: true, encoding: .utf8)
        return archive
    }

    static func pipeline(training: String) -> String {
        """
        {
          "voxelflow": 1, "name": "tiny-classifier", "seed": 2,
          "inputs": { "scan": { "type": "nifti", "pattern": "scans/*.nii.gz" } },
          "stages": [
            { "id": "coarse", "type": "resample", "source": "scan", "spacing": [8, 8, 8], "antialias": true },
            { "id": "cube", "type": "crop-or-pad", "source": "coarse", "size": [16, 16, 16] },
            { "id": "normalised", "type": "percentile-normalize", "source": "cube" }
          ],
          "training": { \(training) }
        }
        """
    }

    static let training = """
        "image": "normalised", "classes": ["ct", "mr", "mask"], "caseClasses": "classes.csv",
        "split": { "train": ["ct", "bone", "lps", "oblique"], "validation": ["ct", "lps"], "test": ["head", "bias", "ct"] },
        "network": { "type": "monai-resnet", "in": 1, "out": 3, "depth": 10, "blockInplanes": [4, 4, 8, 8], "conv1Size": 3 },
        "patch": [16, 16, 16], "batch": 4, "epochs": 3, "iterationsPerEpoch": 4, "loss": { "type": "ce" },
        "augmentation": [ { "type": "flip", "p": 0.5, "axes": [0] } ]
        """

    @Test("a ResNet trains on whole volumes; its test predictions are what `classify` gives with the best weights")
    func trainsAndPredicts() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let archive = try Self.archive(root)
        let pipeline = try PipelineFixtures.writePipeline(Self.pipeline(training: Self.training), in: root)
        let r = PipelineFixtures.cli(["train", pipeline, "-i", archive, "-o", root + "/run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((r.stdout + r.stderr).contains("validation accuracy") && r.stdout.contains("test accuracy"), "\(r.stdout)")
        // The test predictions, one row per test case with a probability per class summing to 1.
        let rows = try String(contentsOfFile: root + "/run/test-predictions.csv", encoding: .utf8).split(whereSeparator: \.isNewline).map { $0.split(separator: ",").map(String.init) }
        #expect(rows.first == ["case", "truth", "predicted", "score_ct", "score_mr", "score_mask"])
        let predictions = Dictionary(rows.dropFirst().map { ($0[0], $0) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(predictions.keys) == ["head", "bias", "ct"])
        for (_, row) in predictions {
            let scores = row[3...5].compactMap(Double.init)
            #expect(scores.count == 3 && abs(scores.reduce(0, +) - 1) < 1e-4)
            let names = ["ct", "mr", "mask"]
            #expect(row[2] == names[scores.indices.max { scores[$0] < scores[$1] } ?? 0], "the prediction is the highest score")
        }
        #expect(predictions["head"]?[1] == "mask" && predictions["bias"]?[1] == "mr" && predictions["ct"]?[1] == "ct")
        // The accuracy printed and the confusion matrix agree with the rows.
        let correct = predictions.values.filter { $0[1] == $0[2] }.count
        #expect(r.stdout.contains(String(format: "test accuracy %.4f on 3 case(s)", Double(correct) / 3)), "\(r.stdout)")
        let confusion = try String(contentsOfFile: root + "/run/test-confusion-matrix.csv", encoding: .utf8)
        #expect(confusion.hasPrefix("true \\ predicted,ct,mr,mask"))
        // The run's report draws the validation accuracy and lists the test cases with the same accuracy.
        let report = try String(contentsOfFile: root + "/run/report.html", encoding: .utf8)
        #expect(report.contains("<h2>Validation accuracy</h2><svg"))
        #expect(report.contains(String(format: "Accuracy %.4f on 3 case(s).", Double(correct) / 3)))
        for (id, row) in predictions { #expect(report.contains("<tr><td>\(id)</td><td>\(row[1])</td><td>\(row[2])</td>"), "\(id)") }
        // The running statistics moved away from their initial values and were saved with the weights.
        let best = try Safetensors(path: root + "/run/checkpoints/best.safetensors")
        #expect(try best.tensor("bn1.running_mean").data.contains { $0 != 0 })
        #expect(try best.tensor("bn1.running_var").data.contains { $0 != 1 })
        // The generated inference pipeline classifies the same cases the same way (evaluation-mode batch norm).
        let inference = PipelineFixtures.cli(["run", root + "/run/inference.json", "-i", archive, "-o", root + "/inferred", "-q"])
        #expect(inference.status == 0, "\(inference.stderr)")
        for id in ["head", "bias", "ct"] {
            let report = try JSONParser.parse(String(contentsOfFile: "\(root)/inferred/cases/\(id)/report.json", encoding: .utf8)).json
            let section = report["results"]?["classification"]
            #expect(section?["predicted"]?.stringValue == predictions[id]?[2], "\(id)")
            let score = section?["scores"]?[predictions[id]?[2] ?? ""]?.doubleValue ?? -1
            let column = 3 + (["ct", "mr", "mask"].firstIndex(of: predictions[id]?[2] ?? "") ?? 0)
            #expect(abs(score - (Double(predictions[id]?[column] ?? "") ?? 9)) < 1e-5)
        }
        // The run's model package is a classification package with the class names; classify with it agrees.
        let package = try ModelPackage.load(root + "/run/model")
        #expect(package.task == .classification && package.classNames == ["ct", "mr", "mask"])
        #expect(package.card["metrics"]?["testAccuracy"]?.doubleValue != nil)
    }

    @Test("the training section of a classifier is checked: classes, their number, the class table, no label map", arguments: [
        (#""image": "normalised", "caseClasses": "classes.csv", "network": {"type": "monai-resnet", "in": 1, "out": 2, "depth": 10}"#, "missing key \"classes\""),
        (#""image": "normalised", "classes": ["a", "b", "c"], "caseClasses": "classes.csv", "network": {"type": "monai-resnet", "in": 1, "out": 2, "depth": 10}"#, "3 class names for a network with 2 outputs"),
        (#""image": "normalised", "classes": ["a", "b"], "network": {"type": "monai-resnet", "in": 1, "out": 2, "depth": 10}"#, "missing key \"caseClasses\""),
        (#""image": "normalised", "label": "normalised", "classes": ["a", "b"], "caseClasses": "c.csv", "network": {"type": "monai-resnet", "in": 1, "out": 2, "depth": 10}"#, "not a label map"),
        (#""image": "normalised", "label": "normalised", "classes": ["a", "b"], "network": {"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8], "strides": [2]}"#, "only classifier networks"),
    ])
    func checked(_ training: String, _ message: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let pipeline = try PipelineFixtures.writePipeline(Self.pipeline(training: training), in: root)
        let r = PipelineFixtures.cli(["validate", pipeline])
        #expect(r.status == 2)
        #expect((r.stdout + r.stderr).contains(message), "\(r.stdout)\(r.stderr)")
    }

    @Test("a case missing from the class table, or a class table row with an unknown class, is named")
    func classTableProblems() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let archive = try Self.archive(root)
        let pipeline = try PipelineFixtures.writePipeline(Self.pipeline(training: Self.training), in: root)
        try "case,class\nct,ct\nbone,mask\nlps,mr\nhead,mask\nbias,mr\n".write(toFile: archive + "/classes.csv", atomically: true, encoding: .utf8)
        let r = PipelineFixtures.cli(["train", pipeline, "-i", archive, "-o", root + "/run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((r.stdout + r.stderr).contains("excluded oblique: oblique: the class table classes.csv has no row for this case"), "\(r.stdout)\(r.stderr)")
        try "case,class\nct,ct\nbone,bone-marrow\n".write(toFile: archive + "/classes.csv", atomically: true, encoding: .utf8)
        let bad = PipelineFixtures.cli(["train", pipeline, "-i", archive, "-o", root + "/run2"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("classes.csv:3: class \"bone-marrow\" is not one of the training section's classes (ct, mr, mask)"), "\(bad.stderr)")
    }
}
