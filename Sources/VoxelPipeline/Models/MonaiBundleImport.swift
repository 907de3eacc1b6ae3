import Foundation
import VoxelIO
import VoxelNN
import VoxelSupport

/// `voxelflow import-bundle`: a MONAI bundle folder (`configs/metadata.json`, `configs/inference.json`,
/// `models/model.pt`) becomes a VoxelFlow model package. The configuration is read as data (nothing in it is
/// evaluated), the checkpoint with the restricted unpickler (nothing in it is executed), and the package is
/// checked by loading it as `segment` (or, for a classifier, `classify`) would before it is moved into place.
public enum MonaiBundleImport {
    /// What an import produced.
    public struct Result: Sendable {
        /// The package folder written.
        public var package: String
        /// What the importer left out or approximated (also in the model card's `importNotes`).
        public var notes: [String]
    }

    /// Imports `bundle` into the new folder `output` (which must not exist). `config` names the inference
    /// configuration inside the bundle (default `configs/inference.json`), `weights` the checkpoint: a state dict
    /// or a TorchScript archive (default `models/model.pt`, or `models/model.ts` when the bundle has no
    /// `model.pt`).
    /// - Throws: `BundleImportError` naming the bundle file, JSON path and problem; `OutputError`-like
    ///   `BundleImportError` when `output` exists or cannot be written.
    public static func run(bundle: String, output: String, config configName: String = "configs/inference.json",
                           weights requestedWeights: String? = nil) throws -> Result {
        guard !FileManager.default.fileExists(atPath: output) else {
            throw BundleImportError(file: output, path: "$", message: "already exists; choose a new folder for the package")
        }
        let bundleDir = (bundle as NSString).standardizingPath
        let weightsName = requestedWeights
            ?? (!FileManager.default.fileExists(atPath: "\(bundleDir)/models/model.pt") && FileManager.default.fileExists(atPath: "\(bundleDir)/models/model.ts")
                ? "models/model.ts" : "models/model.pt")
        let config = try MonaiBundleConfig(file: "\(bundleDir)/\(configName)", bundleDirectory: bundleDir)
        let metadata = try readMetadata("\(bundleDir)/configs/metadata.json")
        let inputs = metadata["network_data_format"]?["inputs"]
        let imageKey: String
        if case .object(let members)? = inputs, let first = members.first { imageKey = first.0 } else { imageKey = "image" }
        var translation = MonaiBundleTranslation(config: config, imageKey: imageKey)
        let network = try translation.network()
        let isClassifier: Bool
        do {
            isClassifier = try Networks.make(network).isClassifier
        } catch let e as NNError {
            throw BundleImportError(file: "\(bundleDir)/\(configName)", path: "network_def", message: "\(e)")
        }
        let preprocessing = try translation.preprocessing()
        // A classifier runs on the whole preprocessed image (SimpleInferer); its scores are the classify stage's.
        let windowSettings = isClassifier ? try translation.classifierInference() : try translation.inference()
        let (postSettings, postprocessing) = isClassifier ? ([], []) : try translation.postprocessing()
        if isClassifier, config.entry("postprocessing") != nil {
            translation.notes.append("postprocessing of a classifier is left to the classify stage (its activation: softmax by default)")
        }

        // Weights: the checkpoint's state dict (at its root, or under "model"/"state_dict"), batch-norm step
        // counters dropped, checked against the network before anything is written.
        let weightsPath = "\(bundleDir)/\(weightsName)"
        let tensors: Safetensors
        let loaded: any Network
        do {
            let checkpoint = try TorchCheckpoint(path: weightsPath)
            var key: String? = nil
            if (try? checkpoint.stateDict()) == nil {
                key = ["model", "state_dict", "network"].first { (try? checkpoint.stateDict(at: $0)) != nil }
            }
            tensors = try checkpoint.weights(at: key, rename: { $0.hasSuffix("num_batches_tracked") ? nil : $0.hasPrefix("module.") ? String($0.dropFirst(7)) : $0 })
            loaded = try Networks.load(tensors, description: network)
        } catch let e as NNError {
            throw BundleImportError(file: weightsPath, path: "$", message: "\(e)")
        }

        // The package, written into a temporary sibling folder and renamed into place.
        let parent = ((output as NSString).deletingLastPathComponent as NSString).standardizingPath
        let temporary = "\(parent.isEmpty ? "." : parent)/.\((output as NSString).lastPathComponent).partial-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw BundleImportError(file: output, path: "$", message: "cannot create the folder: \(FileSystemMessage.describe(error))")
        }
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        // Aliases (one module saved under two paths) and training-only heads are not carried into the package.
        let weightTensors = try tensors.entries.keys.sorted().filter { !loaded.isAlias($0) }.map { ($0, try tensors.tensor($0)) }
        try AtomicFile.write(Safetensors.serialize(weightTensors, metadata: ["config": network.serialized(pretty: false), "source": "MONAI bundle"]),
                             to: "\(temporary)/weights.safetensors")
        let outputs = metadata["network_data_format"]?["outputs"]
        var labelsFile: JSON? = nil
        var classNames: [String]? = nil
        if isClassifier, case .object(let outs)? = outputs, let pred = outs.first?.1, case .object(let channels)? = pred["channel_def"] {
            let named = channels.compactMap { key, value in Int(key).flatMap { k in value.stringValue.map { (k, $0) } } }.sorted { $0.0 < $1.0 }
            if named.map(\.0) == Array(0..<named.count), !named.isEmpty { classNames = named.map(\.1) }
        } else if case .object(let outs)? = outputs, let pred = outs.first?.1, case .object(let channels)? = pred["channel_def"] {
            let labels = channels.compactMap { key, value -> LabelInfo? in
                guard let v = Int(key), v > 0, let name = value.stringValue else { return nil }
                return LabelInfo(value: v, name: name)
            }
            if !labels.isEmpty {
                try AtomicFile.write(Array(LabelTable(labels).json.serialized(pretty: true).utf8), to: "\(temporary)/labels.json")
                labelsFile = .string("labels.json")
            }
        }
        let docs = "\(bundleDir)/docs/README.md"
        if FileManager.default.fileExists(atPath: docs) { try? FileManager.default.copyItem(atPath: docs, toPath: "\(temporary)/README.md") }

        var input: [(String, JSON)] = []
        if case .object(let members)? = inputs, let image = members.first?.1 {
            if let modality = image["modality"]?.stringValue { input.append(("modalities", .array([.string(Self.modality(modality))]))) }
            input.append(("channels", .int(Int(image["num_channels"]?.doubleValue ?? 1))))
            if image["format"]?.stringValue?.lowercased() == "hounsfield" { input.append(("intensityUnit", .string("HU"))) }
        }
        if let code = preprocessing.first(where: { $0["type"]?.stringValue == "reorient" })?["orientation"] { input.append(("orientation", code)) }
        if let spacing = preprocessing.first(where: { $0["type"]?.stringValue == "resample" })?["spacing"] { input.append(("spacing", spacing)) }
        let name = (metadata["name"]?.stringValue ?? (bundleDir as NSString).lastPathComponent)
        var card: [(String, JSON)] = []
        for (key, ours) in [("description", "description"), ("intended_use", "intendedUse"), ("data_source", "trainingData"), ("authors", "authors"),
                            ("copyright", "copyright"), ("license", "license"), ("references", "references"), ("eval_metrics", "metrics")] {
            if let v = metadata[key] { card.append((ours, v)) }
        }
        card.append(("source", .string("MONAI bundle \(name) \(metadata["version"]?.stringValue ?? ""), imported by voxelflow import-bundle from \(configName) and \(weightsName)")))
        if !translation.notes.isEmpty { card.append(("importNotes", .array(translation.notes.map { .string($0) }))) }
        var members: [(String, JSON)] = [
            ("voxelflowModel", .int(ModelPackage.formatVersion)), ("name", .string(name)),
            ("version", .string(metadata["version"]?.stringValue ?? "unversioned")), ("task", .string(isClassifier ? "classification" : "segmentation")),
            ("summary", .string(metadata["task"]?.stringValue ?? metadata["description"]?.stringValue ?? "")),
            ("network", network), ("tensorAxes", .string(TensorAxes.ijk.rawValue)), ("weights", .string("weights.safetensors")), ("input", .object(input)),
            ("preprocessing", .array(preprocessing)),
        ]
        if !isClassifier { members += [("inference", .object(windowSettings + postSettings)), ("postprocessing", .array(postprocessing))] }
        if let labelsFile { members.append(("labels", labelsFile)) }
        if let classNames { members.append(("classNames", .array(classNames.map { .string($0) }))) }
        members.append(("card", .object(card)))
        try AtomicFile.write(Array((JSON.object(members).serialized(pretty: true) + "\n").utf8), to: "\(temporary)/\(ModelPackage.fileName)")

        // The package must load as segment will load it.
        do {
            let package = try ModelPackage.load(temporary)
            try ModelPackage.checkWeights(package)
        } catch {
            throw BundleImportError(file: "\(bundleDir)/\(configName)", path: "$", message: "the translated package does not load: \(error)")
        }
        guard rename(temporary, output) == 0 else {
            throw BundleImportError(file: output, path: "$", message: "cannot move the package into place: \(String(cString: strerror(errno)))")
        }
        return Result(package: output, notes: translation.notes)
    }

    static func readMetadata(_ path: String) throws -> JSON {
        guard FileManager.default.fileExists(atPath: path) else { return .object([]) }
        let config = try MonaiBundleConfig(file: path, bundleDirectory: (path as NSString).deletingLastPathComponent)
        return config.root
    }

    /// MONAI metadata spells modalities in several ways; DICOM's codes are what images carry.
    static func modality(_ text: String) -> String {
        switch text.lowercased() {
        case "mri", "mr", "magnetic resonance", "magnetic resonance imaging": return "MR"
        case "ct", "computed tomography": return "CT"
        case "pet", "pt": return "PT"
        default: return text.uppercased()
        }
    }
}
