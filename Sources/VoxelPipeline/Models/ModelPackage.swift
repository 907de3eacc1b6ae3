import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// A trained model with everything needed to use it correctly: one folder holding `model.json` (the
/// network description, the input it expects, the preprocessing and postprocessing it was trained with as
/// pipeline stages, the sliding-window settings, the label table or class names and a model card) and the
/// weights file it names. `segment` and `classify` take such a folder as `"model"` and run its preprocessing
/// themselves, so a pipeline cannot feed a model input it was not trained on. docs/models.md describes the
/// format; `voxelflow model info` prints a package.
public struct ModelPackage: Sendable {
    /// The `voxelflowModel` version this build reads.
    public static let formatVersion = 1
    /// The description file inside a package folder.
    public static let fileName = "model.json"
    /// The input a package's preprocessing stages take.
    public static let inputID = "input"
    /// The value the postprocessing stages take: the network's label map.
    public static let predictionID = "prediction"

    /// What the network's output is.
    public enum Task: String, Sendable, CaseIterable {
        /// A label map per voxel (`segment`).
        case segmentation
        /// A score per class for the whole image (`classify`).
        case classification
    }

    /// The input the model was trained on; a case that does not fit is refused with the reason.
    public struct InputExpectation: Sendable {
        /// DICOM modalities the model takes (`CT`, `MR`, `PT`, …); empty: any. Checked when the image
        /// carries its modality (DICOM input); NIfTI files carry none.
        public var modalities: [String] = []
        /// Input channels (images stacked: the source and `extraChannels`, or time points).
        public var channels: Int = 1
        /// Physical unit the intensities must be in (`HU`, `SUVbw`); checked when the image carries one.
        public var intensityUnit: String?
        /// In words, for the model card: sequence, contrast, field of view.
        public var description: String?
        /// Orientation and spacing the preprocessing produces (documentation; the stages do the work).
        public var orientation: String?
        public var spacing: [Double]?
    }

    /// Where the package was read from (the folder holding `model.json`).
    public var directory: String
    /// SHA-256 of `model.json`.
    public var sha256: String
    public var name: String
    public var version: String
    public var task: Task
    /// One line saying what the model does.
    public var summary: String
    /// The network description (`Networks.make`).
    public var network: JSON
    /// The order the network takes the volume's axes in (`tensorAxes`, default `kji`).
    public var tensorAxes: TensorAxes
    /// The weights file, absolute.
    public var weightsPath: String
    public var input: InputExpectation
    /// Stages run on the input (`"input"`) before the network; the last one's image is the network's input.
    public var preprocessing: [StageSpec]
    /// `segment` parameters the model was made for (`roi`, `overlap`, `mirror`, …, and `resampleBack`); a
    /// pipeline's own values win.
    public var inference: [String: JSON]
    /// Stages run after the network on `"prediction"`; the last one's label map is the result.
    public var postprocessing: [StageSpec]
    /// Names, colours and codes of the labels (segmentation).
    public var labelTable: LabelTable?
    /// A name per output class (classification).
    public var classNames: [String]?
    /// The model card: description, intended use, training data, metrics, licence, authors, references,
    /// limitations (free-form JSON object).
    public var card: JSON

    /// How the network's result goes back onto the input's grid when preprocessing moved it elsewhere.
    public enum ResampleBack: String, Sendable, CaseIterable {
        /// Labels are decided on the network's grid and moved back nearest-neighbour (fast; steps at the
        /// network's voxel size).
        case labels
        /// Class probabilities are interpolated linearly onto the input's grid and labels decided there (MONAI
        /// `Invertd` before `AsDiscreted`; smooth edges; holds every class at the input's resolution).
        case probabilities
    }

    /// The package's `resampleBack` (default `labels`).
    public var resampleBack: ResampleBack {
        inference["resampleBack"]?.stringValue.flatMap(ResampleBack.init(rawValue:)) ?? .labels
    }

    /// The id of the value fed to the network: the last preprocessing stage, or the input.
    public var networkInputID: String { preprocessing.last?.id ?? Self.inputID }

    /// Reads and checks the package at `path` (its folder, or its `model.json`).
    /// - Throws: `PipelineValidationError` naming `model.json` and every problem with its JSON path and line.
    public static func load(_ path: String, registry: StageRegistry = .builtIn) throws -> ModelPackage {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let file = exists && isDirectory.boolValue ? "\(path)/\(fileName)" : path
        guard let data = FileManager.default.contents(atPath: file) else {
            let why = exists ? (isDirectory.boolValue ? "the folder holds no \(fileName): not a VoxelFlow model package" : "cannot read the file")
                             : "no such file or folder"
            throw PipelineValidationError(file: file, issues: [PipelineIssue(path: "$", line: 0, column: 0, message: why)])
        }
        let bytes = [UInt8](data)
        let directory = (file as NSString).deletingLastPathComponent
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes: bytes)
        } catch let e as JSONSyntaxError {
            throw PipelineValidationError(file: file, issues: [PipelineIssue(path: "$", line: e.line, column: e.column, message: "JSON syntax: \(e.message)")])
        }
        var reader = ModelPackageReader(registry: registry, directory: directory.isEmpty ? "." : directory)
        let package = reader.read(root, sha256: SHA256.hex(bytes))
        guard reader.checker.issues.isEmpty, let package else {
            throw PipelineValidationError(file: file, issues: reader.checker.issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return package
    }
}

/// Reads `model.json` with the pipeline checker, so stage lists get the same checks and messages as pipelines.
struct ModelPackageReader {
    var checker: Checker
    let registry: StageRegistry
    let directory: String

    static let keys = ["$schema", "voxelflowModel", "name", "version", "task", "summary", "network", "tensorAxes", "weights", "input",
                       "preprocessing", "inference", "postprocessing", "labels", "classNames", "card"]
    static let inputKeys = ["modalities", "channels", "intensityUnit", "description", "orientation", "spacing"]
    /// The `segment` parameters a package may set, plus how results go back to the input's grid.
    static let inferenceKeys = ["roi", "overlap", "blend", "sigmaScale", "batchSize", "mirror", "activation", "threshold"]
    /// Stage categories allowed inside a package: no models, writers, analyses or augmentation.
    static let stageCategories: Set<StageCategory> = [.spatial, .intensity, .labels]

    init(registry: StageRegistry, directory: String) {
        checker = Checker(registry: registry, directory: directory)
        self.registry = registry
        self.directory = directory
    }

    mutating func read(_ root: JSONNode, sha256: String) -> ModelPackage? {
        guard let m = checker.members(root, path: "$", allowed: Self.keys) else { return nil }
        func required(_ key: String) -> JSONNode? {
            guard let node = m[key]?.value else { checker.issue("$", root, "missing key \"\(key)\""); return nil }
            return node
        }
        func string(_ key: String, optional: Bool = false) -> String? {
            guard let node = optional ? m[key]?.value : required(key) else { return nil }
            guard let s = node.string, !s.isEmpty else { checker.issue(key, node, "expected a non-empty string, found \(node.typeName)"); return nil }
            return s
        }
        if let v = required("voxelflowModel") {
            if case .number(let n) = v.value, n == Double(ModelPackage.formatVersion) {} else {
                checker.issue("voxelflowModel", v, "this build reads model packages of version \(ModelPackage.formatVersion)")
            }
        }
        let name = string("name"), version = string("version", optional: true) ?? "unversioned"
        let summary = string("summary", optional: true) ?? ""
        var task: ModelPackage.Task?
        if let t = required("task") {
            task = t.string.flatMap(ModelPackage.Task.init(rawValue:))
            if task == nil { checker.issue("task", t, "expected one of \(ModelPackage.Task.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))") }
        }
        var network: JSON?
        if let n = required("network") {
            if case .object = n.value { network = n.json } else { checker.issue("network", n, "expected a network description object, found \(n.typeName)") }
        }
        var weightsPath: String?
        if let w = string("weights"), let node = m["weights"]?.value {
            let full = w.hasPrefix("/") ? w : "\(directory)/\(w)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                weightsPath = full
            } else {
                checker.issue("weights", node, "file not found: \(full)")
            }
        }
        var axes = TensorAxes.kji
        if let node = m["tensorAxes"]?.value {
            if let a = node.string.flatMap(TensorAxes.init(rawValue:)) { axes = a } else { checker.issue("tensorAxes", node, "expected \"kji\" (VoxelFlow's order) or \"ijk\" (MONAI's)") }
        }
        let input = expectation(m["input"]?.value)
        let inference = inferenceSettings(m["inference"]?.value)
        let base: [(String, ValueKind?)] = [(ModelPackage.inputID, .image)]
        let pre = stages(m["preprocessing"]?.value, section: "preprocessing", available: base)
        var available = withKinds(pre, after: base)
        if let last = available.last, !pre.isEmpty, last.1 != .image, let node = m["preprocessing"]?.value {
            checker.issue("preprocessing", node, "the last preprocessing stage (\"\(last.0)\") must give an image: it is what the network takes")
        }
        available.append((ModelPackage.predictionID, .labels))
        let post = stages(m["postprocessing"]?.value, section: "postprocessing", available: available)
        if let last = withKinds(post, after: available).last, !post.isEmpty, last.1 != .labels, let node = m["postprocessing"]?.value {
            checker.issue("postprocessing", node, "the last postprocessing stage (\"\(last.0)\") must give a label map: it is the model's result")
        }
        var table: LabelTable?
        if let l = m["labels"]?.value {
            do {
                if let file = l.string {
                    table = try LabelTable.read(file.hasPrefix("/") ? file : "\(directory)/\(file)")
                } else {
                    table = try LabelTable.parse(l, path: "labels")
                }
            } catch {
                checker.issue("labels", l, "\(error)")
            }
        }
        var classNames: [String]?
        if let c = m["classNames"]?.value {
            if case .array(let items) = c.value, !items.isEmpty, items.allSatisfy({ $0.string != nil }) {
                classNames = items.compactMap(\.string)
            } else {
                checker.issue("classNames", c, "expected a non-empty array of class names")
            }
        }
        var card: JSON = .object([])
        if let c = m["card"]?.value {
            if case .object = c.value { card = c.json } else { checker.issue("card", c, "expected an object (the model card), found \(c.typeName)") }
        }
        if task == .classification {
            if let node = m["postprocessing"]?.value, !post.isEmpty { checker.issue("postprocessing", node, "a classification model has no postprocessing stages") }
            if let node = m["inference"]?.value, !inference.isEmpty { checker.issue("inference", node, "sliding-window settings apply to segmentation models only") }
            if let node = m["labels"]?.value { checker.issue("labels", node, "a classification model names its classes in \"classNames\"") }
        } else if task == .segmentation, let node = m["classNames"]?.value {
            checker.issue("classNames", node, "a segmentation model names its labels in \"labels\" (a label table)")
        }
        guard let name, let task, let network, let weightsPath else { return nil }
        return ModelPackage(directory: directory, sha256: sha256, name: name, version: version, task: task, summary: summary,
                            network: network, tensorAxes: axes, weightsPath: weightsPath, input: input, preprocessing: pre, inference: inference,
                            postprocessing: post, labelTable: table, classNames: classNames, card: card)
    }

    mutating func expectation(_ node: JSONNode?) -> ModelPackage.InputExpectation {
        var e = ModelPackage.InputExpectation()
        guard let node, let m = checker.members(node, path: "input", allowed: Self.inputKeys) else { return e }
        if let v = m["modalities"]?.value {
            if case .array(let items) = v.value, items.allSatisfy({ $0.string?.isEmpty == false }) {
                e.modalities = items.compactMap(\.string)
            } else {
                checker.issue("input.modalities", v, "expected an array of DICOM modalities such as \"CT\" or \"MR\"")
            }
        }
        if let v = m["channels"]?.value {
            if case .number(let n) = v.value, n >= 1, n <= 64, n == n.rounded() { e.channels = Int(n) } else { checker.issue("input.channels", v, "expected a whole number 1…64") }
        }
        for key in ["intensityUnit", "description", "orientation"] {
            guard let v = m[key]?.value else { continue }
            guard let s = v.string else { checker.issue("input.\(key)", v, "expected a string"); continue }
            switch key {
            case "intensityUnit": e.intensityUnit = s
            case "description": e.description = s
            default: e.orientation = s
            }
        }
        if let v = m["spacing"]?.value {
            if case .array(let items) = v.value, items.count == 3, items.allSatisfy({ ($0.json.doubleValue ?? 0) > 0 }) {
                e.spacing = items.compactMap(\.json.doubleValue)
            } else {
                checker.issue("input.spacing", v, "expected three positive spacings in mm")
            }
        }
        return e
    }

    mutating func inferenceSettings(_ node: JSONNode?) -> [String: JSON] {
        guard let node, let m = checker.members(node, path: "inference", allowed: Self.inferenceKeys + ["resampleBack"]) else { return [:] }
        var result: [String: JSON] = [:]
        let specs = registry["segment"]?.parameters ?? []
        for (key, member) in m {
            if key == "resampleBack" {
                if member.value.string.flatMap(ModelPackage.ResampleBack.init(rawValue:)) == nil {
                    checker.issue("inference.resampleBack", member.value, "expected \"labels\" or \"probabilities\"")
                } else {
                    result[key] = member.value.json
                }
                continue
            }
            guard let spec = specs.first(where: { $0.name == key }) else { continue }
            if checker.checkValue(member.value, spec.type, path: "inference.\(key)", known: [:]) { result[key] = member.value.json }
        }
        return result
    }

    /// A stage list checked as a pipeline's `stages` would be, with `available` as the values it may take.
    mutating func stages(_ node: JSONNode?, section: String, available: [(String, ValueKind?)]) -> [StageSpec] {
        guard let node else { return [] }
        if case .array(let list) = node.value, list.isEmpty { return [] }
        let before = checker.issues.count
        let inputs = available.map { InputSpec(name: $0.0, kind: $0.1 ?? .image, source: .reference(path: "")) }
        let specs = checker.stages(node, inputs: inputs)
        // The checker names the list "stages"; here it is this section.
        for i in before..<checker.issues.count where checker.issues[i].path.hasPrefix("stages") {
            checker.issues[i].path = section + checker.issues[i].path.dropFirst("stages".count)
        }
        for (n, s) in specs.enumerated() {
            let path = "\(section)[\(n)]"
            if s.condition != nil { checker.issues.append(PipelineIssue(path: path, line: s.line, column: s.column, message: "\"when\" is not available inside a model package")) }
            if let category = registry[s.type]?.category, !Self.stageCategories.contains(category) {
                checker.issues.append(PipelineIssue(path: path, line: s.line, column: s.column,
                                                    message: "stage type \"\(s.type)\" (\(category.rawValue)) cannot run inside a model package; only spatial, intensity and label stages can"))
            }
        }
        return specs
    }

    /// `base` followed by each stage's id and the kind of value it gives.
    func withKinds(_ specs: [StageSpec], after base: [(String, ValueKind?)]) -> [(String, ValueKind?)] {
        var result = base
        for s in specs {
            switch registry[s.type]?.produces {
            case .kind(let k)?: result.append((s.id, k))
            case .sameAs(let p)?:
                let ref = s.parameters.string(p)
                result.append((s.id, result.last(where: { $0.0 == ref })?.1 ?? nil))
            default: result.append((s.id, nil))
            }
        }
        return result
    }
}
