import VoxelCore
import VoxelSupport

/// A whole network that maps an `N × inChannels × D × H × W` tensor to its output: segmentation networks give
/// `N × outChannels × D × H × W` logits, classifiers `N × outChannels` logits.
public protocol Network: Sendable {
    /// Channels the input must have.
    var inChannels: Int { get }
    /// Channels (segmentation) or classes (classification) of the output.
    var outChannels: Int { get }
    /// Every spatial size of the input must be a multiple of this (1: any size).
    var sizeMultiple: Int { get }
    /// The multiple each spatial size (D, H, W) of the input must be, per axis: networks with anisotropic
    /// strides need different ones. Defaults to `sizeMultiple` on every axis.
    var sizeMultiples: [Int] { get }
    /// True when the output is one score vector per sample rather than a volume.
    var isClassifier: Bool { get }
    /// True for state-dict names a checkpoint may hold that are not parameters of their own: the aliases
    /// PyTorch saves when one module is reachable by two paths, and heads used only in training. Such names
    /// are neither loaded nor refused. Defaults to none.
    func isAlias(_ name: String) -> Bool
    /// Every parameter name (PyTorch state_dict naming) the network reads from a weights file.
    var parameterNames: [String] { get }
    /// Reads every parameter, checking names and shapes.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    mutating func load(from weights: Safetensors) throws
    /// Runs the network (inference: dropout is the identity, batch norm uses its running statistics).
    /// - Throws: `NNError.invalidInput` when the input's shape does not fit.
    func forward(_ x: Tensor) throws -> Tensor
}

extension Network {
    public var sizeMultiples: [Int] { [sizeMultiple, sizeMultiple, sizeMultiple] }

    public func isAlias(_ name: String) -> Bool { false }

    /// Loads `weights` and also refuses tensors the network does not have (a checkpoint of another
    /// architecture often shares a prefix of names). Names listed in `ignoring` are allowed extras.
    /// - Throws: `NNError.unexpectedWeight` for the first (sorted) extra name, or any `load` error.
    public mutating func loadStrictly(from weights: Safetensors, ignoring: Set<String> = ["input", "output"]) throws {
        try load(from: weights)
        let known = Set(parameterNames)
        // PyTorch's batch-norm step counters (`…num_batches_tracked`) play no part in inference.
        if let extra = weights.entries.keys.sorted().first(where: { !known.contains($0) && !ignoring.contains($0) && !$0.hasSuffix(".num_batches_tracked") && !isAlias($0) }) {
            throw NNError.unexpectedWeight(extra)
        }
    }

    func checkInput(_ x: Tensor, _ name: String) throws {
        guard x.shape.count == 5, x.shape[1] == inChannels else {
            throw NNError.invalidInput("\(name) expects N × \(inChannels) × D × H × W, got \(x.shape)")
        }
        let multiples = sizeMultiples
        guard (0..<3).allSatisfy({ x.shape[2 + $0] > 0 && x.shape[2 + $0] % multiples[$0] == 0 }) else {
            let what = Set(multiples).count == 1 ? "\(multiples[0])" : "\(multiples) (per axis)"
            throw NNError.invalidInput("\(name): spatial size \(Array(x.shape[2...])) must be a multiple of \(what)")
        }
    }
}

/// Builds networks from their JSON description, the form pipelines and exported checkpoints use:
/// `{"type": "monai-unet" | "monai-basicunet" | "monai-segresnet" | "monai-dynunet" | "monai-swinunetr" | "monai-resnet" | "monai-densenet",
/// …hyperparameters}`. The keys of each type
/// are documented on its `init(configuration:)`.
public enum Networks {
    /// The network types this engine knows.
    public static let types = ["monai-unet", "monai-basicunet", "monai-segresnet", "monai-dynunet", "monai-swinunetr", "monai-resnet", "monai-densenet"]

    /// A network with zero weights, built from its description; load weights before use.
    /// - Throws: `NNError.invalidInput` naming an unknown type or a missing or malformed key.
    public static func make(_ description: JSON) throws -> any Network {
        let c = NetworkConfiguration(description)
        switch try c.string("type") {
        case "monai-unet": return try MonaiUNet(configuration: c)
        case "monai-basicunet": return try MonaiBasicUNet(configuration: c)
        case "monai-segresnet": return try MonaiSegResNet(configuration: c)
        case "monai-dynunet": return try MonaiDynUNet(configuration: c)
        case "monai-swinunetr": return try MonaiSwinUNETR(configuration: c)
        case "monai-resnet": return try MonaiResNet(configuration: c)
        case "monai-densenet": return try MonaiDenseNet(configuration: c)
        case let other:
            throw NNError.invalidInput("network type \"\(other)\" is unknown; known types: \(types.joined(separator: ", "))")
        }
    }

    /// A network built from a weights file that carries its description (`__metadata__.config`, as
    /// scripts/convert_checkpoint.py writes), or from `description` when given, with the weights loaded.
    /// - Throws: `NNError.invalidInput` when neither gives a description; load errors as `loadStrictly`.
    public static func load(_ weights: Safetensors, description: JSON? = nil) throws -> any Network {
        var config = description
        if config == nil, let text = weights.metadata["config"] { config = try JSONParser.parse(text).json }
        guard let config else {
            throw NNError.invalidInput("\(weights.path): no network description given and none stored in the file's metadata")
        }
        var net = try make(config)
        try net.loadStrictly(from: weights)
        return net
    }
}

/// Typed reads of a network description, with errors that name the key.
public struct NetworkConfiguration: Sendable {
    public let json: JSON

    public init(_ json: JSON) { self.json = json }

    private func fail(_ key: String, _ what: String) -> NNError {
        let type = json["type"]?.stringValue ?? "network"
        return NNError.invalidInput("\(type) configuration: \"\(key)\" must be \(what)")
    }

    /// A whole number ≥ `minimum`; `fallback` when absent (required when nil).
    public func int(_ key: String, _ fallback: Int? = nil, minimum: Int = 0) throws -> Int {
        guard let value = json[key], value != .null else {
            if let fallback { return fallback }
            throw fail(key, "given (a whole number ≥ \(minimum))")
        }
        guard let d = value.doubleValue, d == d.rounded(), d >= Double(minimum), d < 1e9 else { throw fail(key, "a whole number ≥ \(minimum)") }
        return Int(d)
    }

    /// An array of whole numbers ≥ `minimum`; `fallback` when absent (required when nil).
    public func ints(_ key: String, _ fallback: [Int]? = nil, minimum: Int = 1) throws -> [Int] {
        guard let value = json[key], value != .null else {
            if let fallback { return fallback }
            throw fail(key, "given (an array of whole numbers)")
        }
        guard case .array(let items) = value else { throw fail(key, "an array of whole numbers ≥ \(minimum)") }
        return try items.map { item in
            guard let d = item.doubleValue, d == d.rounded(), d >= Double(minimum), d < 1e9 else { throw fail(key, "an array of whole numbers ≥ \(minimum)") }
            return Int(d)
        }
    }

    /// A number; `fallback` when absent (required when nil).
    public func double(_ key: String, _ fallback: Double? = nil) throws -> Double {
        guard let value = json[key], value != .null else {
            if let fallback { return fallback }
            throw fail(key, "given (a number)")
        }
        guard let d = value.doubleValue else { throw fail(key, "a number") }
        return d
    }

    /// A boolean; `fallback` when absent.
    public func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        switch json[key] {
        case nil, .null?: return fallback
        case .bool(let b)?: return b
        default: throw fail(key, "true or false")
        }
    }

    /// A string; `fallback` when absent (required when nil).
    public func string(_ key: String, _ fallback: String? = nil) throws -> String {
        guard let value = json[key], value != .null else {
            if let fallback { return fallback }
            throw fail(key, "given (a string)")
        }
        guard let s = value.stringValue else { throw fail(key, "a string") }
        return s
    }
}
