import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// Model packages: a folder with model.json, weights, stages, labels and card, run by `segment`/`classify`
/// with `"model"`. The shipped brain-extraction package is the reference case.
@Suite("Model packages")
struct ModelPackageTests {
    static let brainPackage = TestPaths.repositoryRoot + "/pipelines/models/brain-extraction"

    /// Copies the brain-extraction package into `root/NAME` with `edit` applied to its model.json text.
    static func package(in root: String, name: String = "pkg", edit: (String) -> String = { $0 }) throws -> String {
        let folder = "\(root)/\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for file in ["weights.safetensors", "labels.json"] {
            try FileManager.default.copyItem(atPath: "\(brainPackage)/\(file)", toPath: "\(folder)/\(file)")
        }
        let text = try String(contentsOfFile: "\(brainPackage)/model.json", encoding: .utf8)
        try edit(text).write(toFile: "\(folder)/model.json", atomically: true, encoding: .utf8)
        return folder
    }

    static func problems(_ path: String) -> [PipelineIssue] {
        do {
            _ = try ModelPackage.load(path)
            return []
        } catch let e as PipelineValidationError {
            return e.issues
        } catch {
            return [PipelineIssue(path: "?", line: 0, column: 0, message: "\(error)")]
        }
    }

    @Test("the shipped brain-extraction package reads as described: stages, inference, labels; its parameter count is PyTorch's")
    func shippedPackage() throws {
        let p = try ModelPackage.load(Self.brainPackage)
        #expect(p.name == "brain-extraction" && p.task == .segmentation && p.input.modalities == ["MR"] && p.input.channels == 1)
        #expect(p.preprocessing.map(\.type) == ["reorient", "resample", "percentile-normalize"])
        #expect(p.postprocessing.map(\.id) == ["largest", "filled", "fraction", "on-scan", "brain"])
        #expect(p.networkInputID == "normalised" && p.resampleBack == .labels)
        #expect(p.inference["roi"] == .array([.int(64), .int(64), .int(64)]))
        #expect(p.labelTable?.labels.map(\.name) == ["Brain"])
        let r = PipelineFixtures.cli(["model", "info", Self.brainPackage, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONParser.parse(r.stdout).json
        // sum(p.numel() for p in monai.networks.nets.UNet(3, 1, 2, (16, 32, 64, 128), (2, 2, 2), num_res_units=2).parameters())
        #expect(json["parameters"]?.doubleValue == 1_186_765)
        #expect(json["card"]?["intendedUse"]?.stringValue?.contains("not a clinical device") == true)
    }

    @Test("one segment stage with the package gives, voxel for voxel, the mask of the same stages written out in a pipeline")
    func sameAsWrittenOut() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let scan = "mni152_lps-2x2x3"
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(TestPaths.sampleData)/nifti/t1/\(scan).nii.gz", toPath: "\(root)/archive/\(scan).nii.gz")
        let written = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "written-out", "inputs": { "t1": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [
            { "id": "ras", "type": "reorient", "source": "t1", "orientation": "RAS" },
            { "id": "iso", "type": "resample", "source": "ras", "spacing": [2, 2, 2], "interpolation": "linear", "antialias": true },
            { "id": "norm", "type": "percentile-normalize", "source": "iso", "lower": 0.5, "upper": 99.5 },
            { "id": "seg", "type": "segment", "source": "norm", "network": { "type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, 64, 128],
              "strides": [2, 2, 2], "numResUnits": 2 }, "weights": "\(Self.brainPackage)/weights.safetensors",
              "roi": [64, 64, 64], "overlap": 0.5, "mirror": ["i"] },
            { "id": "largest", "type": "keep-largest-component", "source": "seg", "connectivity": "6" },
            { "id": "filled", "type": "fill-holes", "source": "largest" },
            { "id": "fraction", "type": "one-hot", "source": "filled", "classes": [1] },
            { "id": "back", "type": "resample-to", "source": "fraction", "reference": "t1", "interpolation": "linear" },
            { "id": "brain", "type": "threshold", "source": "back", "lower": 0.5 },
            { "id": "write", "type": "write-nifti", "source": "brain", "path": "mask.nii.gz" } ] }
        """, in: root, name: "written.json")
        let packaged = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "packaged", "inputs": { "t1": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "brain", "type": "segment", "source": "t1", "model": "\(Self.brainPackage)" },
                      { "id": "write", "type": "write-nifti", "source": "brain", "path": "mask.nii.gz" } ] }
        """, in: root, name: "packaged.json")
        for (pipeline, out) in [(written, "a"), (packaged, "b")] {
            let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", "\(root)/\(out)", "-q"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = try NIfTI.read("\(root)/a/cases/\(scan)/mask.nii.gz").volume, b = try NIfTI.read("\(root)/b/cases/\(scan)/mask.nii.gz").volume
        #expect(a.geometry == b.geometry && a.physicalFloats() == b.physicalFloats())
        #expect(b.physicalFloats().contains(1), "the mask is not empty")
    }

    @Test("input the model was not made for is refused per case with the reason; turning its preprocessing off is a warning")
    func refusals() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(TestPaths.sampleData)/dicom/ct_head_implicit", toPath: "\(root)/archive/ct")
        try FileManager.default.copyItem(atPath: "\(TestPaths.sampleData)/nifti/t1/mni152_lps-2x2x3.nii.gz", toPath: "\(root)/archive/t1.nii.gz")
        // A CT series: DICOM says CT, the package takes MR.
        let ct = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "ct-into-brain", "inputs": { "ct": { "type": "dicom-series" } },
          "stages": [ { "id": "brain", "type": "segment", "source": "ct", "model": "\(Self.brainPackage)" } ] }
        """, in: root, name: "ct.json")
        var r = PipelineFixtures.cli(["run", ct, "-i", root + "/archive/ct", "-o", root + "/ct-out", "-q"])
        #expect(r.status == 4, "one case failed: \(r.stderr)")
        var lines = try PipelineFixtures.manifest(root + "/ct-out")
        #expect(lines.first?.json["error"]?["message"]?.stringValue?.contains("model \"brain-extraction\" takes MR images, but this one is CT") == true,
                "\(lines.first?.json.serialized(pretty: false) ?? "")")
        // Two channels for a one-channel model.
        let two = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "two-channels", "inputs": { "t1": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "brain", "type": "segment", "source": "t1", "extraChannels": ["t1"], "model": "\(Self.brainPackage)" } ] }
        """, in: root, name: "two.json")
        r = PipelineFixtures.cli(["run", two, "-i", root + "/archive", "-o", root + "/two-out", "-q"])
        #expect(r.status == 4)
        lines = try PipelineFixtures.manifest(root + "/two-out")
        #expect(lines.first?.json["error"]?["message"]?.stringValue?.contains("takes 1 channel(s), but the input has 2") == true)
        // Preprocessing off: the network sees raw intensities; the run says so for the case.
        let raw = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "raw", "inputs": { "t1": { "type": "nifti", "pattern": "*.nii.gz" } },
          "stages": [ { "id": "brain", "type": "segment", "source": "t1", "model": "\(Self.brainPackage)", "modelPreprocessing": false,
                        "roi": [32, 32, 32] } ] }
        """, in: root, name: "raw.json")
        r = PipelineFixtures.cli(["run", raw, "-i", root + "/archive", "-o", root + "/raw-out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        lines = try PipelineFixtures.manifest(root + "/raw-out")
        let warnings = lines.first?.json["warnings"]?.serialized(pretty: false) ?? ""
        #expect(warnings.contains("its preprocessing was turned off"), "\(warnings)")
    }

    @Test("stages refuse a package of the other task, and model together with network or weights")
    func stageMisuse() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        for (stage, message) in [
            (#"{ "id": "kind", "type": "classify", "source": "t1", "model": "MODEL" }"#, "is a segmentation model; use a \"segment\" stage"),
            (#"{ "id": "b", "type": "segment", "source": "t1", "model": "MODEL", "network": {"type": "monai-unet"} }"#, "leave out \"network\" and \"weights\""),
            (#"{ "id": "b", "type": "segment", "source": "t1" }"#, "give \"model\" (a model package) or both \"network\" and \"weights\""),
            (#"{ "id": "b", "type": "segment", "source": "t1", "model": "no-such-folder" }"#, "no such file or folder"),
        ] {
            let pipeline = try PipelineFixtures.writePipeline("""
            { "voxelflow": 1, "name": "misuse", "inputs": { "t1": { "type": "nifti", "pattern": "*.nii.gz" } },
              "stages": [ \(stage.replacingOccurrences(of: "MODEL", with: Self.brainPackage)) ] }
            """, in: root)
            let r = PipelineFixtures.cli(["validate", pipeline])
            #expect(r.status == 2)
            #expect(r.stderr.contains(message), "\(r.stderr)")
        }
    }

    @Test("model.json problems are reported with their JSON path", arguments: [
        ("\"preprocessing\"", "\"preprocesing\"", "preprocesing", "unknown key \"preprocesing\" (did you mean \"preprocessing\"?)"),
        ("{ \"id\": \"brain\", \"type\": \"threshold\", \"source\": \"on-scan\", \"lower\": 0.5 }",
         "{ \"id\": \"brain\", \"type\": \"threshold\", \"source\": \"on-scan\", \"lower\": 0.5 }, { \"id\": \"w\", \"type\": \"write-nifti\", \"source\": \"brain\" }",
         "postprocessing[5]", "cannot run inside a model package"),
        ("\"source\": \"input\", \"orientation\"", "\"source\": \"prediction\", \"orientation\"", "preprocessing[0].source", "prediction"),
        ("\"lower\": 0.5 }\n  ]", "\"lower\": 0.5 },\n { \"id\": \"img\", \"type\": \"gaussian-smooth\", \"source\": \"input\", \"sigma\": [1, 1, 1] }\n  ]",
         "postprocessing", "must give a label map"),
        ("\"weights.safetensors\"", "\"missing.safetensors\"", "weights", "file not found"),
        ("\"task\": \"segmentation\"", "\"task\": \"detection\"", "task", "expected one of"),
        ("\"channels\": 1,", "\"channels\": 0,", "input.channels", "whole number 1…64"),
        ("\"mirror\": [\"i\"]", "\"mirror\": [\"x\"]", "inference.mirror", "x"),
    ])
    func formatProblems(_ find: String, _ replace: String, _ path: String, _ message: String) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let folder = try Self.package(in: root) { text in
            #expect(text.contains(find), "fixture text changed: \(find)")
            return text.replacingOccurrences(of: find, with: replace)
        }
        let issues = Self.problems(folder)
        #expect(issues.contains { $0.path.hasPrefix(path) && $0.message.contains(message) }, "\(issues)")
    }

    @Test("weights that do not fit the network are refused by model info, naming the tensor")
    func weightsMismatch() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let folder = try Self.package(in: root) { $0.replacingOccurrences(of: "\"channels\": [16, 32, 64, 128]", with: "\"channels\": [8, 32, 64, 128]") }
        let r = PipelineFixtures.cli(["model", "info", folder])
        #expect(r.status == 2)
        #expect(r.stderr.contains("model.0.conv.unit0.conv.weight"), "\(r.stderr)")
    }
}
