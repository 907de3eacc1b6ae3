import Foundation
import Testing
import TestSupport
import VoxelCatalog
import VoxelCore
import VoxelIO
import VoxelNN
import VoxelPipeline
import VoxelSupport
import VoxelTransforms

/// `voxelflow train` on the sample head CT: outputs, learning, resumption after SIGKILL and SIGTERM, the
/// generated inference pipeline, refusals and the split rules.
@Suite("voxelflow train", .serialized)
struct TrainCommandTests {
    static let pipeline = TestPaths.repositoryRoot + "/pipelines/training/ct-head-bone.json"

    static func train(_ out: String, _ extra: [String] = []) -> Subprocess.Result {
        PipelineFixtures.cli(["train", pipeline, "-i", TestPaths.sampleData, "-o", out] + extra)
    }

    /// `TMP/archive/nifti` holding the sample head CT and its bone mask (case "head"); returns the nifti folder.
    static func sampleArchive(_ tmp: String) throws -> String {
        let archive = tmp + "/archive/nifti"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        for name in ["hu", "mask_bone"] {
            try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_\(name).nii.gz", toPath: archive + "/ct_head_\(name).nii.gz")
        }
        return archive
    }

    static func logEntries(_ run: String) throws -> [JSON] {
        let text = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONParser.parse(String($0)).json }
    }

    /// Starts a training run in the background, waits until its first epoch is logged, then sends `signal`.
    static func interruptedRun(_ out: String, signal: Int32, after file: String = "log.jsonl") throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.voxelflowExecutable)
        process.arguments = ["train", pipeline, "-i", TestPaths.sampleData, "-o", out]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: out + "/" + file) && process.isRunning && Date() < deadline { usleep(2_000) }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// True when two checkpoints hold the same tensors bit for bit and the same position (the metadata apart
    /// from the log, whose lines carry wall-clock seconds).
    static func sameCheckpoint(_ a: String, _ b: String) throws -> Bool {
        let x = try Safetensors(path: a), y = try Safetensors(path: b)
        guard Set(x.entries.keys) == Set(y.entries.keys) else { return false }
        for name in x.entries.keys where try x.tensor(name).data.map(\.bitPattern) != y.tensor(name).data.map(\.bitPattern) { return false }
        return x.metadata.filter { $0.key != "log" } == y.metadata.filter { $0.key != "log" }
    }

    @Test("a short run learns, writes every output, and its inference pipeline runs")
    func shortRun() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        let run = tmp + "/run"
        let r = Self.train(run)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("epoch 4/4"))
        for file in ["checkpoints/last.safetensors", "checkpoints/best.safetensors", "split.json", "log.jsonl", "report.html",
                     "inference.json", "pipeline.json", "training.resolved.json"] {
            #expect(FileManager.default.fileExists(atPath: run + "/" + file), "\(file) missing")
        }
        let log = try Self.logEntries(run)
        #expect(log.count == 4)
        let losses = log.compactMap { $0["loss"]?.doubleValue }
        #expect(losses.count == 4 && losses[3] < losses[0] * 0.7, "loss did not fall: \(losses)")
        #expect(log.allSatisfy { $0["validationMeanDice"]?.doubleValue != nil })
        let split = try JSONParser.parse(String(contentsOfFile: run + "/split.json", encoding: .utf8)).json
        #expect(split["train"] == .array([.string("head")]) && split["validation"] == .array([.string("head")]))
        // best.safetensors loads strictly into the described network (as `segment` and PyTorch load it).
        let best = try Safetensors(path: run + "/checkpoints/best.safetensors")
        let net = try Networks.load(best)
        #expect(net.outChannels == 2)
        #expect(best.entries.keys.allSatisfy { !$0.hasPrefix("optimizer.") })
        let report = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        #expect(report.contains("<svg") && report.contains("train-ct-head-bone"))
        // The generated inference pipeline validates, runs, and writes labels on the original scan's grid.
        #expect(PipelineFixtures.cli(["validate", run + "/inference.json"]).status == 0)
        let inference = PipelineFixtures.cli(["run", run + "/inference.json", "-i", TestPaths.sampleData, "-o", tmp + "/inference", "-q"])
        #expect(inference.status == 0, "\(inference.stderr)")
        let labels = try NIfTI.read(tmp + "/inference/cases/head/segmentation.nii.gz")
        let scan = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz")
        #expect(labels.volume.geometry.size == scan.volume.geometry.size)
        #expect(labels.volume.geometry.affine.maxAbsDifference(to: scan.volume.geometry.affine) < 1e-4)
        // The run's model package carries the preprocessing and the window: one segment stage with it gives the
        // inference pipeline's labels voxel for voxel.
        #expect(r.stderr.contains("model package: "), "\(r.stderr)")
        let package = try ModelPackage.load(run + "/model")
        #expect(package.task == .segmentation && !package.preprocessing.isEmpty && package.preprocessing.first?.parameters.string("source") == ModelPackage.inputID)
        #expect(package.inference["roi"] != nil && package.card["metrics"]?["bestValidationMeanDice"]?.doubleValue != nil)
        let packaged = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "packaged", "inputs": { "ct": { "type": "nifti", "pattern": "nifti/ct_*_hu.nii.gz" } },
          "stages": [ { "id": "labels", "type": "segment", "source": "ct", "model": "\(run)/model" },
                      { "id": "write", "type": "write-nifti", "source": "labels", "path": "labels.nii.gz" } ] }
        """, in: tmp, name: "packaged.json")
        let p = PipelineFixtures.cli(["run", packaged, "-i", TestPaths.sampleData, "-o", tmp + "/packaged", "-q"])
        #expect(p.status == 0, "\(p.stderr)")
        let fromPackage = try NIfTI.read(tmp + "/packaged/cases/head/labels.nii.gz")
        #expect(fromPackage.volume.physicalFloats() == labels.volume.physicalFloats())
    }

    @Test("killed (SIGKILL) after the first epoch and resumed, the run ends with bit-identical weights and optimiser state")
    func resumeAfterKill() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        #expect(Self.train(tmp + "/whole").status == 0)
        _ = try Self.interruptedRun(tmp + "/killed", signal: SIGKILL)
        let done = (try? Self.logEntries(tmp + "/killed").count) ?? 0
        #expect(done < 4, "the run finished before it was killed; the test proves nothing")
        let r = Self.train(tmp + "/killed", ["--resume"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.sameCheckpoint(tmp + "/whole/checkpoints/last.safetensors", tmp + "/killed/checkpoints/last.safetensors"),
                "last.safetensors differs after resuming")
        #expect(FileManager.default.contents(atPath: tmp + "/whole/checkpoints/best.safetensors")
                == FileManager.default.contents(atPath: tmp + "/killed/checkpoints/best.safetensors"), "best.safetensors differs after resuming")
        #expect(try Self.logEntries(tmp + "/killed").count == 4)
        // Killed before its first checkpoint: --resume starts afresh in the run's own folder and ends the same.
        _ = try Self.interruptedRun(tmp + "/early", signal: SIGKILL, after: "split.json")
        #expect(!FileManager.default.fileExists(atPath: tmp + "/early/checkpoints/last.safetensors"), "the run wrote a checkpoint before it was killed")
        let early = Self.train(tmp + "/early", ["--resume"])
        #expect(early.status == 0 && early.stderr.contains("starting from the beginning"), "\(early.stderr)")
        #expect(try Self.sameCheckpoint(tmp + "/whole/checkpoints/last.safetensors", tmp + "/early/checkpoints/last.safetensors"))
    }

    @Test("SIGTERM finishes the step, writes a checkpoint and exits 130; --resume reaches the same weights")
    func resumeAfterTerm() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        #expect(Self.train(tmp + "/whole").status == 0)
        let status = try Self.interruptedRun(tmp + "/term", signal: SIGTERM)
        #expect(status == 130)
        let checkpoint = try Safetensors(path: tmp + "/term/checkpoints/last.safetensors")
        #expect(Int(checkpoint.metadata["step"] ?? "") ?? 0 > 0)
        #expect(Self.train(tmp + "/term", ["--resume"]).status == 0)
        #expect(try Self.sameCheckpoint(tmp + "/whole/checkpoints/last.safetensors", tmp + "/term/checkpoints/last.safetensors"))
    }

    @Test("refusals: a folder with other files, resuming nothing, `run` on a training pipeline")
    func refusals() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        try FileManager.default.createDirectory(atPath: tmp + "/mine", withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: tmp + "/mine/notes.txt"))
        let r = Self.train(tmp + "/mine")
        #expect(r.status == 3 && r.stderr.contains("is not empty"))
        #expect(try String(contentsOfFile: tmp + "/mine/notes.txt", encoding: .utf8) == "notes")
        let resume = Self.train(tmp + "/nothing", ["--resume"])
        #expect(resume.status == 3 && resume.stderr.contains("no checkpoint"))
        let run = PipelineFixtures.cli(["run", Self.pipeline, "-i", TestPaths.sampleData, "-o", tmp + "/run"])
        #expect(run.status == 2 && run.stderr.contains("voxelflow train"))
    }

    @Test("a case with labels the network cannot have is left out with its reason; the others train")
    func badCaseExcluded() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        let archive = try Self.sampleArchive(tmp)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", toPath: archive + "/ct_bad_hu.nii.gz")
        var labels = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_mask_bone.nii.gz").volume
        guard case .uint8(var values) = labels.voxels else { Issue.record("the bone mask is not uint8"); return }
        for i in stride(from: 0, to: values.count, by: 97) where values[i] != 0 { values[i] = 5 }
        try labels.replaceVoxels(.uint8(values))
        try NIfTI.write(labels, to: archive + "/ct_bad_mask_bone.nii.gz")
        var text = try String(contentsOfFile: Self.pipeline, encoding: .utf8)
        text = text.replacingOccurrences(of: #""train": ["head"], "validation": ["head"]"#, with: #""train": ["bad", "head"], "validation": ["head"]"#)
        text = text.replacingOccurrences(of: #""epochs": 4"#, with: #""epochs": 1"#)
        try text.write(toFile: tmp + "/pipeline.json", atomically: true, encoding: .utf8)
        let r = PipelineFixtures.cli(["train", tmp + "/pipeline.json", "-i", tmp + "/archive", "-o", tmp + "/run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("excluded bad") && r.stderr.contains("label value 5"), "\(r.stderr)")
        #expect(r.stdout.contains("excluded cases: 1"))
        let report = try String(contentsOfFile: tmp + "/run/report.html", encoding: .utf8)
        #expect(report.contains("Excluded cases") && report.contains("label value 5"))
    }

    @Test("a DICOM series with its DICOM SEG trains; the inference pipeline writes labels on the series' grid")
    func dicomSeriesRun() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        // The sample CT series and a SEG of it (1: HU > 300, 2: soft tissue) beside it.
        let truth = try DICOMLabelInputTests.archive(tmp) { map, stack, path in try DICOMSegmentation.write(map, reference: stack, to: path) }
        let pipeline = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "train-dicom", "seed": 3,
          "inputs": { "ct": { "type": "dicom-series", "modality": ["CT"] }, "seg": { "type": "dicom-labels", "of": "ct" } },
          "stages": [
            { "id": "ct3mm", "type": "resample", "source": "ct", "spacing": [3, 3, 3], "interpolation": "linear" },
            { "id": "scaled", "type": "scale-intensity-range", "source": "ct3mm", "aMin": -1000, "aMax": 2000, "bMin": 0, "bMax": 1, "clip": true },
            { "id": "seg3mm", "type": "resample-to", "source": "seg", "reference": "ct3mm" } ],
          "training": {
            "image": "scaled", "label": "seg3mm",
            "split": { "train": ["INV3-CRANIUM_CT1"], "validation": ["INV3-CRANIUM_CT1"] },
            "network": { "type": "monai-unet", "in": 1, "out": 3, "channels": [8, 16, 32], "strides": [2, 2], "numResUnits": 1 },
            "patch": [32, 32, 8], "positiveFraction": 0.5, "batch": 2, "epochs": 4, "iterationsPerEpoch": 6,
            "loss": { "type": "dicece" }, "optimizer": { "type": "adam", "lr": 0.01 }, "schedule": { "type": "poly" } } }
        """, in: tmp, name: "train.json")
        let run = tmp + "/run"
        let r = PipelineFixtures.cli(["train", pipeline, "-i", tmp + "/archive", "-o", run])
        try #require(r.status == 0, "\(r.stderr)")
        let split = try JSONParser.parse(String(contentsOfFile: run + "/split.json", encoding: .utf8)).json
        #expect(split["train"] == .array([.string("INV3-CRANIUM_CT1")]))
        let log = try Self.logEntries(run)
        let losses = log.compactMap { $0["loss"]?.doubleValue }
        #expect(losses.count == 4 && losses[3] < losses[0], "loss did not fall: \(losses)")
        // It learns from the SEG: validation Dice rises, and the large soft-tissue label (2) is found.
        let dice = log.compactMap { $0["validationMeanDice"]?.doubleValue }
        #expect(dice.count == 4 && dice[3] > dice[0], "validation Dice did not rise: \(dice)")
        if case .array(let perClass)? = log.last?["validationDice"], perClass.count == 2 {
            #expect((perClass[1].doubleValue ?? 0) > 0.6, "soft-tissue Dice \(perClass)")
        } else {
            Issue.record("no per-class validation Dice in the last log line")
        }
        // The generated inference pipeline reads the same series and writes its labels on the series' grid.
        let inference = PipelineFixtures.cli(["run", run + "/inference.json", "-i", tmp + "/archive", "-o", tmp + "/inference", "-q"])
        try #require(inference.status == 0, "\(inference.stderr)")
        let labels = try NIfTI.read(tmp + "/inference/cases/INV3-CRANIUM_CT1/segmentation.nii.gz").volume
        #expect(labels.geometry.size == truth.geometry.size)
        #expect(labels.geometry.affine.maxAbsDifference(to: truth.geometry.affine) < 1e-4)
    }

    @Test("SegResNet and DynUNet train from the same pipeline: the loss falls and the best weights load as that network; batch norm is refused",
          arguments: [#""type": "monai-segresnet", "in": 1, "out": 2, "initFilters": 8, "blocksDown": [1, 2, 2], "blocksUp": [1, 1], "numGroups": 4"#,
                      #""type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, 3, 3], "strides": [1, 2, 2], "upsampleKernelSize": [2, 2], "filters": [8, 16, 32], "norm": "instance-affine""#])
    func otherNetworks(_ network: String) throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        var text = try String(contentsOfFile: Self.pipeline, encoding: .utf8)
        let unet = #""network": { "type": "monai-unet", "in": 1, "out": 2, "channels": [8, 16, 32], "strides": [2, 2], "numResUnits": 1 }"#
        try #require(text.contains(unet))
        text = text.replacingOccurrences(of: unet, with: "\"network\": { \(network) }")
        try text.write(toFile: tmp + "/pipeline.json", atomically: true, encoding: .utf8)
        let r = PipelineFixtures.cli(["train", tmp + "/pipeline.json", "-i", TestPaths.sampleData, "-o", tmp + "/run"])
        try #require(r.status == 0, "\(r.stderr)")
        let losses = try Self.logEntries(tmp + "/run").compactMap { $0["loss"]?.doubleValue }
        #expect(losses.count == 4 && losses[3] < losses[0], "loss did not fall: \(losses)")
        let net = try Networks.load(try Safetensors(path: tmp + "/run/checkpoints/best.safetensors"))
        #expect((network.contains("segresnet") ? net is MonaiSegResNet : net is MonaiDynUNet) && net.outChannels == 2)
        // Batch norm is refused, with the reason.
        let batch = text.replacingOccurrences(of: #""numGroups": 4"#, with: #""norm": "batch""#)
            .replacingOccurrences(of: #""norm": "instance-affine""#, with: #""norm": "batch""#)
        try batch.write(toFile: tmp + "/batch.json", atomically: true, encoding: .utf8)
        let refused = PipelineFixtures.cli(["train", tmp + "/batch.json", "-i", TestPaths.sampleData, "-o", tmp + "/run-batch"])
        #expect(refused.status != 0 && refused.stderr.contains("batch norm"), "\(refused.stderr)")
    }

    @Test("a finished run measures its best weights on the test cases it never trained on: test-metrics.csv, the report, the summary line")
    func testCases() throws {
        let tmp = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(tmp) }
        let archive = try Self.sampleArchive(tmp)
        for name in ["hu", "mask_bone"] {
            // A second, different scan: the same head mirrored left to right on the same grid.
            var v = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_\(name).nii.gz").volume
            let s = v.geometry.size
            func mirror<T>(_ a: [T]) -> [T] {
                (0..<a.count).map { (n: Int) -> T in
                    let i = n % s.x
                    return a[n - i + (s.x - 1 - i)]
                }
            }
            let mirrored: VoxelArray
            switch v.voxels {
            case .int16(let a): mirrored = .int16(mirror(a))
            case .uint8(let a): mirrored = .uint8(mirror(a))
            default: Issue.record("unexpected voxel type \(v.voxelType)"); return
            }
            try v.replaceVoxels(mirrored)
            try NIfTI.write(v, to: archive + "/ct_mirror_\(name).nii.gz")
        }
        var text = try String(contentsOfFile: Self.pipeline, encoding: .utf8)
        text = text.replacingOccurrences(of: #""train": ["head"], "validation": ["head"]"#, with: #""train": ["head"], "validation": ["head"], "test": ["mirror"]"#)
        try text.write(toFile: tmp + "/pipeline.json", atomically: true, encoding: .utf8)
        let r = PipelineFixtures.cli(["train", tmp + "/pipeline.json", "-i", tmp + "/archive", "-o", tmp + "/run"])
        #expect(r.status == 0, "\(r.stderr)")
        let table = EvaluationTable.parse(try String(contentsOfFile: tmp + "/run/test-metrics.csv", encoding: .utf8))
        #expect(table.header == EvaluationTable.header(.init(labels: [1])))
        #expect(table.rows.count == 1 && table.rows.first?[0] == "mirror" && table.rows.first?[1] == "1")
        let row = Dictionary(uniqueKeysWithValues: zip(table.header, table.rows.first ?? []))
        // The reference is the mirrored mask after the pipeline's own stages (onto the 3 mm grid, nearest neighbour).
        let ct = try NIfTI.read(archive + "/ct_mirror_hu.nii.gz").volume
        let grid = try Resample(spacing: [3, 3, 3], interpolation: .linear, antialias: true).apply(ct).volume.geometry
        let mask = try ResampleToGrid(target: grid, interpolation: .nearest).apply(NIfTI.read(archive + "/ct_mirror_mask_bone.nii.gz").volume)
        let bone = (0..<mask.voxels.count).filter { mask.voxels.value(at: $0) == 1 }.count
        #expect(row["reference_voxels"] == String(bone))
        let dice = try #require(Double(row["dice"] ?? ""))
        #expect(dice > 0.2 && dice <= 1, "a model that learned bone finds some of it in the mirrored head: Dice \(dice)")
        #expect(r.stdout.contains(String(format: "test Dice %.4f on 1 case(s)", dice)), "\(r.stdout)")
        let summary = EvaluationTable.parse(try String(contentsOfFile: tmp + "/run/test-metrics-summary.csv", encoding: .utf8))
        #expect(summary.rows.contains { $0[0] == "1" && $0[2] == "dice" && $0[3] == "1" })
        let report = try String(contentsOfFile: tmp + "/run/report.html", encoding: .utf8)
        #expect(report.contains("Test cases") && report.contains("<td>mirror</td>"))
    }

    @Test("training sections are checked with line and column")
    func validation() throws {
        let text = """
        {"voxelflow": 1, "name": "t", "inputs": {"ct": {"type": "nifti", "pattern": "*.nii.gz"}},
         "stages": [{"id": "s", "type": "normalize-intensity", "source": "ct"}],
         "training": {"image": "s", "label": "nolabel", "network": {"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8], "strides": [2]},
           "patch": [31, 32, 32], "loss": {"type": "dicee"}, "augmentation": [{"type": "flipp"}], "epochz": 3}}
        """
        do {
            _ = try PipelineValidator(registry: StageCatalog.registry).validate(text: text, file: "t.json", directory: "/tmp")
            Issue.record("the training section's problems were not found")
        } catch let e as PipelineValidationError {
            let paths = Set(e.issues.map(\.path))
            #expect(paths.isSuperset(of: ["training.label", "training.patch", "training.loss.type", "training.augmentation[0]", "training.epochz"]), "\(e)")
            #expect(e.issues.allSatisfy { $0.line >= 1 && $0.column >= 1 })
            #expect(e.description.contains("did you mean \"dicece\"") || e.description.contains("dicece"))
        }
    }

    @Test("splits: 70/15/15 by default, reproducible by seed, lists checked, k folds partition the cases")
    func splits() throws {
        let ids = (0..<20).map { String(format: "case%02d", $0) }
        let a = try TrainingSplit.make(.fractions(train: 0.7, validation: 0.15, seed: 3), ids: ids)
        #expect((a.train.count, a.validation.count, a.test.count) == (14, 3, 3))
        #expect(Set(a.train + a.validation + a.test) == Set(ids))
        #expect(try TrainingSplit.make(.fractions(train: 0.7, validation: 0.15, seed: 3), ids: ids.reversed()) == a)
        #expect(try TrainingSplit.make(.fractions(train: 0.7, validation: 0.15, seed: 4), ids: ids) != a)
        var seen: [String] = []
        for fold in 0..<5 {
            let s = try TrainingSplit.make(.kFold(folds: 5, fold: fold, seed: 1), ids: ids)
            #expect(s.validation.count == 4 && s.train.count == 16 && Set(s.train).isDisjoint(with: s.validation))
            seen += s.validation
        }
        #expect(seen.sorted() == ids)
        #expect(throws: TrainingError.self) { try TrainingSplit.make(.lists(train: ["nope"], validation: [], test: []), ids: ids) }
    }
}
