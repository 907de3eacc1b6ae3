import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelNN
@testable import VoxelPipeline
import VoxelSupport

/// `voxelflow import-bundle` on a MONAI bundle folder laid out as the Model Zoo publishes them
/// (Tests/Fixtures/bundles/ct-tissue-bundle, made by scripts/oracles/make_bundle_fixture.py), checked against
/// MONAI's own bundle inference (`python -m monai.bundle run`) on the sample head CT.
@Suite("MONAI bundle import")
struct MonaiBundleImportTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/bundles"
    static let bundle = fixtures + "/ct-tissue-bundle"

    /// A copy of the fixture bundle in `root/bundle` with `edit` applied to configs/inference.json.
    static func bundleCopy(in root: String, edit: (String) -> String = { $0 }) throws -> String {
        let copy = root + "/bundle"
        try FileManager.default.copyItem(atPath: bundle, toPath: copy)
        let config = copy + "/configs/inference.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try edit(text).write(toFile: config, atomically: true, encoding: .utf8)
        return copy
    }

    /// Copies the sample head CT into `root/archive`, runs one `segment` stage with the package at `root/model`
    /// on it and compares the labels with MONAI's (`oracle` in the fixtures): same grid, at most 0.001 % of voxels
    /// differing, the labels 0, 1, 2 present.
    static func runOnHeadCT(in root: String, against oracle: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", toPath: root + "/archive/ct_head_hu.nii.gz")
        let pipeline = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "bundle", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "labels", "type": "segment", "source": "ct", "model": "model" },
                      { "id": "write", "type": "write-nifti", "source": "labels", "path": "labels.nii.gz" } ] }
        """, in: root)
        let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let ours = try NIfTI.read(root + "/out/cases/ct_head_hu/labels.nii.gz").volume
        let monai = try NIfTI.read(fixtures + "/" + oracle).volume
        let grid = try GridComparison(ours, against: monai)
        #expect(ours.geometry.size == monai.geometry.size && grid.affineError < 1e-4)
        let a = ours.physicalFloats(), b = monai.physicalFloats()
        let differing = zip(a, b).filter { $0 != $1 }.count
        #expect(differing <= a.count / 100_000, "\(differing) of \(a.count) voxels differ from MONAI")
        #expect(Set(a) == [0, 1, 2])
    }

    @Test("import + run agrees with MONAI's bundle inference voxel for voxel (but for at most 0.001 %), on the scan's grid")
    func importAndRun() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let r = PipelineFixtures.cli(["import-bundle", Self.bundle, "-o", root + "/model"])
        #expect(r.status == 0, "\(r.stderr)")
        let package = try ModelPackage.load(root + "/model")
        #expect(package.tensorAxes == .ijk && package.resampleBack == .probabilities)
        #expect(package.preprocessing.map(\.type) == ["reorient", "resample", "scale-intensity-range"])
        #expect(package.inference["overlap"] == .number(0.5) && package.inference["blend"] == .string("constant") && package.inference["batchSize"] == .int(4))
        #expect(package.input.modalities == ["CT"] && package.input.intensityUnit == "HU")
        #expect(package.labelTable?.labels.map(\.name) == ["soft tissue", "bone"])
        #expect(package.card["intendedUse"]?.stringValue?.contains("not for diagnostic purposes") == true)
        // The runtime parts of the configuration hold `$` expressions; none of them is needed.
        try Self.runOnHeadCT(in: root, against: "ct_head_hu_monai_bundle_labels.nii.gz")
    }

    @Test("a DynUNet bundle (anisotropic, residual, deep supervision; aliases in the checkpoint): import + run agrees with MONAI's bundle inference")
    func dynUNetBundle() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let r = PipelineFixtures.cli(["import-bundle", Self.fixtures + "/ct-dynunet-bundle", "-o", root + "/model"])
        #expect(r.status == 0, "\(r.stderr)")
        let package = try ModelPackage.load(root + "/model")
        #expect(package.network["type"]?.stringValue == "monai-dynunet")
        // The checkpoint's skip_layers aliases and supervision heads are not carried into the package.
        let stored = try Safetensors(path: package.weightsPath).entries.keys
        #expect(!stored.contains { $0.hasPrefix("skip_layers.") || $0.hasPrefix("deep_supervision_heads.") })
        #expect(stored.contains("bottleneck.conv3.conv.weight"))
        try Self.runOnHeadCT(in: root, against: "ct_head_hu_monai_dynunet_labels.nii.gz")
    }

    @Test("a SwinUNETR bundle (configuration shaped as MONAI's BTCV bundle; float16 checkpoint): import + run agrees with MONAI's bundle inference")
    func swinUNETRBundle() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let r = PipelineFixtures.cli(["import-bundle", Self.fixtures + "/ct-swinunetr-bundle", "-o", root + "/model"])
        #expect(r.status == 0, "\(r.stderr)")
        let package = try ModelPackage.load(root + "/model")
        #expect(package.network["type"]?.stringValue == "monai-swinunetr" && package.network["featureSize"] == .int(12))
        #expect(package.inference["roi"] == .array([.int(64), .int(64), .int(32)]))
        // The index buffer is computed by the network, not carried into the package.
        let stored = try Safetensors(path: package.weightsPath).entries.keys
        #expect(!stored.contains { $0.hasSuffix("relative_position_index") })
        #expect(stored.contains("swinViT.layers4.0.blocks.1.attn.relative_position_bias_table"))
        try Self.runOnHeadCT(in: root, against: "ct_head_hu_monai_swinunetr_labels.nii.gz")
    }

    @Test("a bundle that ships models/model.ts instead of model.pt imports from it (weights only), to the same package weights")
    func torchScriptBundle() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        var r = PipelineFixtures.cli(["import-bundle", Self.bundle, "-o", root + "/from-pt"])
        #expect(r.status == 0, "\(r.stderr)")
        let copy = try Self.bundleCopy(in: root)
        try FileManager.default.removeItem(atPath: copy + "/models/model.pt")
        try FileManager.default.copyItem(atPath: TestPaths.repositoryRoot + "/Tests/Fixtures/checkpoints/ct_tissue_unet_scripted.ts", toPath: copy + "/models/model.ts")
        r = PipelineFixtures.cli(["import-bundle", copy, "-o", root + "/from-ts"])
        #expect(r.status == 0, "\(r.stderr)")
        let a = try Safetensors(path: ModelPackage.load(root + "/from-pt").weightsPath), b = try Safetensors(path: ModelPackage.load(root + "/from-ts").weightsPath)
        #expect(Set(a.entries.keys) == Set(b.entries.keys) && !a.entries.isEmpty)
        for name in a.entries.keys { #expect(try a.tensor(name) == b.tensor(name), "\(name)") }
        #expect(try ModelPackage.load(root + "/from-ts").card["source"]?.stringValue?.contains("models/model.ts") == true)
    }

    @Test("a DenseNet classification bundle imports as a classification package; classify gives MONAI's probabilities within 1e-4")
    func classifierBundle() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        var r = PipelineFixtures.cli(["import-bundle", Self.fixtures + "/ct-classifier-bundle", "-o", root + "/model"])
        #expect(r.status == 0, "\(r.stderr)")
        let package = try ModelPackage.load(root + "/model")
        #expect(package.task == .classification && package.classNames == ["first", "second", "third"])
        #expect(package.postprocessing.isEmpty && package.network["type"]?.stringValue == "monai-densenet")
        #expect(package.preprocessing.map(\.type) == ["reorient", "resample", "scale-intensity-range"])
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", toPath: root + "/archive/ct_head_hu.nii.gz")
        let pipeline = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "classifier-bundle", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "kind", "type": "classify", "source": "ct", "model": "model" },
                      { "id": "report", "type": "write-report" } ] }
        """, in: root)
        r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONParser.parse(String(contentsOfFile: root + "/out/cases/ct_head_hu/report.json", encoding: .utf8)).json
        let oracle = try JSONParser.parse(String(contentsOfFile: Self.fixtures + "/ct_head_hu_monai_classifier_scores.json", encoding: .utf8)).json
        let expected = oracle["scores"]?.doubleArray ?? []
        #expect(expected.count == 3)
        for (name, p) in zip(["first", "second", "third"], expected) {
            let ours = report["results"]?["kind"]?["scores"]?[name]?.doubleValue ?? .nan
            #expect(abs(ours - p) <= 1e-4, "\(name): \(ours) vs MONAI \(p)")
        }
        // A segment stage refuses the classification package, naming the stage to use.
        let wrong = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "wrong", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "labels", "type": "segment", "source": "ct", "model": "model" } ] }
        """, in: root, name: "wrong.json")
        r = PipelineFixtures.cli(["run", wrong, "-i", root + "/archive", "-o", root + "/out2", "-q"])
        #expect(r.status != 0 && (r.stderr + ((try? String(contentsOfFile: root + "/out2/manifest.json", encoding: .utf8)) ?? "")).contains("classify"), "\(r.stderr)")
    }

    @Test("published bundle networks translate into networks with MONAI's state dict, name for name and shape for shape", arguments: [
        // MONAI's spleen CT bundle: UNet 16…256, batch norm, two residual units.
        (#"{ "_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "num_res_units": 2, "norm": "batch" }"#,
         "spleen_unet_state_dict.json"),
        // MONAI's whole-body CT bundle: SegResNet, 105 classes, 32 initial filters, dropout.
        (#"{ "_target_": "SegResNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 105, "init_filters": 32, "blocks_down": [1, 2, 2, 4], "blocks_up": [1, 1, 1], "dropout_prob": 0.2 }"#,
         "wholebody_segresnet_state_dict.json"),
        // DynUNet as MONAI's DynUNet tutorial plans it for the Decathlon spleen task: anisotropic first and last levels,
        // residual blocks, deep supervision (its heads and PyTorch's skip_layers aliases are in the state dict).
        (#"{ "_target_": "DynUNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2, "kernel_size": [[3, 3, 1], 3, 3, 3, 3, 3], "strides": [1, [2, 2, 1], 2, 2, 2, [2, 2, 1]], "upsample_kernel_size": [[2, 2, 1], 2, 2, 2, [2, 2, 1]], "norm_name": "instance", "deep_supervision": true, "deep_supr_num": 3, "res_block": true }"#,
         "dynunet_spleen_state_dict.json"),
        // MONAI's BTCV multi-organ bundle: SwinUNETR, 14 classes, feature size 48, with the img_size older MONAI took.
        (#"{ "_target_": "SwinUNETR", "spatial_dims": 3, "img_size": 96, "in_channels": 1, "out_channels": 14, "feature_size": 48, "use_checkpoint": false }"#,
         "swinunetr_btcv_state_dict.json"),
        // DenseNet121, MONAI's 3D classifier.
        (#"{ "_target_": "DenseNet121", "spatial_dims": 3, "in_channels": 1, "out_channels": 2 }"#,
         "densenet121_state_dict.json"),
    ])
    func publishedNetworks(_ networkDef: String, _ fixture: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let copy = try Self.bundleCopy(in: root) { text in
            guard let start = text.range(of: "\"network_def\": {")?.lowerBound, let end = text.range(of: "\"network\": ")?.lowerBound else { return text }
            return text.replacingCharacters(in: start..<end, with: "\"network_def\": \(networkDef),\n    ")
        }
        let config = try MonaiBundleConfig(file: copy + "/configs/inference.json", bundleDirectory: copy)
        let description = try MonaiBundleTranslation(config: config, imageKey: "image").network()
        let network = try Networks.make(description)
        let ours = try Safetensors.parameterShapes(of: network)
        let monai = try JSONParser.parse(String(contentsOfFile: Self.fixtures + "/" + fixture, encoding: .utf8)).json
        guard case .object(let entries) = monai else { Issue.record("fixture is not an object"); return }
        let expected = entries.filter { !$0.0.hasSuffix("num_batches_tracked") && !network.isAlias($0.0) }.map { ($0.0, $0.1.doubleArray.map { Int($0) }) }
        #expect(ours.count == expected.count)
        #expect(Dictionary(uniqueKeysWithValues: ours) == Dictionary(uniqueKeysWithValues: expected))
        // The fixture's weights belong to another network: import refuses them, naming the first tensor. (A
        // classifier is refused earlier, for the fixture's sliding-window inferer.)
        let r = PipelineFixtures.cli(["import-bundle", copy, "-o", root + "/model"])
        let reason = network.isClassifier ? "SlidingWindowInferer is not supported for a classifier" : "models/model.pt"
        #expect(r.status == 2 && r.stderr.contains(reason), "\(r.stderr)")
    }

    @Test("what cannot be imported is refused with the JSON path, and nothing is left behind", arguments: [
        ("\"pixdim\": [\n                    1.2,\n                    1.2,\n                    1.8\n                ]", "\"pixdim\": \"$[1.2, 1.2, 1.8]\"",
         "preprocessing.transforms[3].pixdim", "Python expression"),
        ("\"_target_\": \"EnsureTyped\"", "\"_target_\": \"Lambdad\", \"func\": \"$lambda x: x\"", "preprocessing.transforms[5]._target_", "transform Lambdad is not known"),
        ("\"_target_\": \"UNet\"", "\"_target_\": \"UNETR\"", "network_def._target_", "network UNETR is not built by this engine yet"),
        ("\"roi_size\": [", "\"roi_size\": \"@patch_size\", \"sw_device\": [", "inferer.roi_size", "names no entry"),
        ("\"overlap\": 0.5", "\"overlap\": 0.5, \"cval\": 0, \"mode\": \"reflect\"", "inferer.mode", "blending \"reflect\""),
        ("\"Invertd\"", "\"Invertd\", \"meta_keys\": \"$@preprocessing.keys()\"", "", ""),
    ])
    func refusals(_ find: String, _ replace: String, _ path: String, _ message: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let copy = try Self.bundleCopy(in: root) { text in
            #expect(text.contains(find), "fixture text changed: \(find)")
            return text.replacingOccurrences(of: find, with: replace)
        }
        let r = PipelineFixtures.cli(["import-bundle", copy, "-o", root + "/model"])
        if path.isEmpty {
            // Invertd's arguments are never read: an expression there does no harm.
            #expect(r.status == 0, "\(r.stderr)")
            return
        }
        #expect(r.status == 2)
        #expect(r.stderr.contains("inference.json: \(path): ") && r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/model"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }

    @Test("a checkpoint that would run code is refused naming the global; an existing output folder is never touched; YAML is refused")
    func hostileAndExisting() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let copy = try Self.bundleCopy(in: root)
        try FileManager.default.removeItem(atPath: copy + "/models/model.pt")
        try FileManager.default.copyItem(atPath: TestPaths.repositoryRoot + "/Tests/Fixtures/checkpoints/hostile_system.pth", toPath: copy + "/models/model.pt")
        var r = PipelineFixtures.cli(["import-bundle", copy, "-o", root + "/model"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("model.pt") && r.stderr.contains("system"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/model"))
        try FileManager.default.createDirectory(atPath: root + "/mine", withIntermediateDirectories: true)
        try "notes".write(toFile: root + "/mine/notes.txt", atomically: true, encoding: .utf8)
        r = PipelineFixtures.cli(["import-bundle", Self.bundle, "-o", root + "/mine"])
        #expect(r.status == 2 && r.stderr.contains("already exists"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/mine") == ["notes.txt"])
        r = PipelineFixtures.cli(["import-bundle", Self.bundle, "-o", root + "/yaml", "--config", "configs/inference.yaml"])
        #expect(r.status == 2 && r.stderr.contains("YAML"), "\(r.stderr)")
    }
}

extension JSON {
    /// The numbers of an array (empty for anything else).
    var doubleArray: [Double] {
        guard case .array(let items) = self else { return [] }
        return items.compactMap(\.doubleValue)
    }
}
