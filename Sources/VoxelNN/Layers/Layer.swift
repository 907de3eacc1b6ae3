/// A network layer: a function of an NCDHW tensor (or N × features for `Linear`).
public protocol Layer: Sendable {
    /// Applies the layer.
    /// - Throws: `NNError.invalidInput` when the input's shape does not fit the layer.
    func forward(_ x: Tensor) throws -> Tensor
}

/// A layer with parameters that load from a weights file under PyTorch's state_dict names.
public protocol ParameterizedLayer: Layer {
    /// The parameter names this layer reads, relative to its prefix (e.g. `weight`, `bias`).
    var parameterNames: [String] { get }
    /// Reads every parameter `prefix + name`, checking its shape.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    mutating func load(from weights: Safetensors, prefix: String) throws
}

func requireRank(_ x: Tensor, _ rank: Int, channels: Int? = nil, _ layer: String) throws {
    guard x.shape.count == rank else { throw NNError.invalidInput("\(layer) needs a rank-\(rank) tensor, got shape \(x.shape)") }
    if let channels, x.shape[1] != channels {
        throw NNError.invalidInput("\(layer) expects \(channels) channels, got shape \(x.shape)")
    }
}

extension ParameterizedLayer {
    /// The full names of this layer's parameters under `prefix` (e.g. `conv.` → `conv.weight`).
    public func parameterNames(under prefix: String) -> [String] { parameterNames.map { prefix + $0 } }
}
