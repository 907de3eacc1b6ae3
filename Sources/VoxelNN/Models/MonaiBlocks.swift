/// MONAI's `Convolution` block with its default "NDA" ordering: a convolution (or transposed convolution),
/// then the norm, dropout (identity at inference) and the activation — unless `convOnly`.
/// `UNet` uses instance norm without affine and PReLU with one shared slope by default (its `norm` and `act`
/// choose batch norm, no norm, ReLU or LeakyReLU); `BasicUNet` uses instance norm with affine and
/// LeakyReLU(0.1). State-dict names: `conv.weight`, `conv.bias`, `adn.N.weight`, `adn.N.bias` (affine
/// norm), `adn.N.running_mean`/`running_var` (batch norm), `adn.A.weight` (PReLU).
public struct MonaiConvolution: Sendable {
    /// The activation after the norm.
    public enum Activation: Sendable, Equatable {
        /// PReLU with one learned slope (parameter `adn.A.weight`).
        case prelu
        /// LeakyReLU with a fixed negative slope (0: ReLU).
        case leakyReLU(Float)
    }

    /// The normalisation after the convolution.
    public enum Norm: Sendable, Equatable {
        /// Instance norm, with or without a per-channel affine.
        case instance(affine: Bool)
        /// Batch norm with running statistics (evaluation mode).
        case batch
        /// No normalisation (the activation follows the convolution directly).
        case none
    }

    public var conv: Conv3d?
    public var transposed: ConvTranspose3d?
    public var norm: InstanceNorm3d?
    public var batchNorm: BatchNorm3d?
    public var prelu: PReLU?
    public var activation: Activation?

    public init(inChannels: Int, outChannels: Int, stride: Int, kernel: Int, transposed isTransposed: Bool, convOnly: Bool,
                normAffine: Bool = false, activation: Activation = .prelu) {
        self.init(inChannels: inChannels, outChannels: outChannels, stride: stride, kernel: kernel, transposed: isTransposed,
                  convOnly: convOnly, norm: .instance(affine: normAffine), activation: activation)
    }

    public init(inChannels: Int, outChannels: Int, stride: Int, kernel: Int, transposed isTransposed: Bool, convOnly: Bool,
                norm kind: Norm, activation: Activation = .prelu) {
        let k = [kernel, kernel, kernel], s = [stride, stride, stride], p = Array(repeating: (kernel - 1) / 2, count: 3)
        if isTransposed {
            transposed = ConvTranspose3d(inChannels: inChannels, outChannels: outChannels, kernel: k, stride: s, padding: p,
                                         outputPadding: Array(repeating: stride - 1, count: 3))
        } else {
            conv = Conv3d(inChannels: inChannels, outChannels: outChannels, kernel: k, stride: s, padding: p)
        }
        if !convOnly {
            switch kind {
            case .instance(let affine): norm = InstanceNorm3d(channels: outChannels, affine: affine)
            case .batch: batchNorm = BatchNorm3d(channels: outChannels)
            case .none: break
            }
            self.activation = activation
            if activation == .prelu { prelu = PReLU(channels: 1) }
        }
    }

    func parameterNames(prefix: String) -> [String] {
        var names: [String] = conv?.parameterNames(under: prefix + "conv.") ?? transposed?.parameterNames(under: prefix + "conv.") ?? []
        names += norm?.parameterNames(under: prefix + "adn.N.") ?? []
        names += batchNorm?.parameterNames(under: prefix + "adn.N.") ?? []
        names += prelu?.parameterNames(under: prefix + "adn.A.") ?? []
        return names
    }

    mutating func load(from w: Safetensors, prefix: String) throws {
        try conv?.load(from: w, prefix: prefix + "conv.")
        try transposed?.load(from: w, prefix: prefix + "conv.")
        try norm?.load(from: w, prefix: prefix + "adn.N.")
        try batchNorm?.load(from: w, prefix: prefix + "adn.N.")
        try prelu?.load(from: w, prefix: prefix + "adn.A.")
    }

    /// The activation's slope for negative values, applied in the norm's pass.
    private var negativeSlope: Float? {
        switch activation {
        case .prelu?: return prelu?.weight.data.first
        case .leakyReLU(let slope)?: return slope
        case nil: return nil
        }
    }

    func forward(_ x: Tensor) throws -> Tensor {
        var y = try conv?.forward(x) ?? transposed?.forward(x) ?? x
        try normalise(&y)
        return y
    }

    /// The norm and activation on a convolution's output.
    private func normalise(_ y: inout Tensor) throws {
        if let norm {
            try norm.apply(&y, negativeSlope: negativeSlope)
        } else if let batchNorm {
            y = try batchNorm.forward(y, negativeSlope: negativeSlope)
        } else if let slope = negativeSlope {
            y.data.withUnsafeMutableBufferPointer { b in
                for i in b.indices where b[i] < 0 { b[i] *= slope }
            }
        }
    }

    /// The block on the channel concatenation of `parts`, read in place by the convolution.
    func forward(concatenating parts: [Tensor]) throws -> Tensor {
        guard let conv else { return try forward(TensorOps.concatChannels(parts)) }
        var y = try conv.forward(concatenating: parts)
        try normalise(&y)
        return y
    }
}

/// MONAI's `ResidualUnit`: `subunits` Convolution blocks (the first with the stride) plus a residual path
/// that is the identity, or a convolution when the stride or channel count changes (kernel 1 when only the
/// channels change). Names: `conv.unit{i}.…`, `residual.weight`, `residual.bias`.
public struct MonaiResidualUnit: Sendable {
    public var units: [MonaiConvolution]
    public var residual: Conv3d?

    public init(inChannels: Int, outChannels: Int, stride: Int, kernel: Int, subunits: Int, lastConvOnly: Bool,
                norm: MonaiConvolution.Norm = .instance(affine: false), activation: MonaiConvolution.Activation = .prelu) {
        let n = max(1, subunits)
        units = (0..<n).map { i in
            MonaiConvolution(inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels, stride: i == 0 ? stride : 1,
                             kernel: kernel, transposed: false, convOnly: lastConvOnly && i == n - 1, norm: norm, activation: activation)
        }
        if stride != 1 || inChannels != outChannels {
            let k = stride == 1 ? 1 : kernel
            residual = Conv3d(inChannels: inChannels, outChannels: outChannels, kernel: [k, k, k], stride: [stride, stride, stride],
                              padding: Array(repeating: stride == 1 ? 0 : (kernel - 1) / 2, count: 3))
        }
    }

    func parameterNames(prefix: String) -> [String] {
        units.indices.flatMap { units[$0].parameterNames(prefix: prefix + "conv.unit\($0).") }
            + (residual?.parameterNames(under: prefix + "residual.") ?? [])
    }

    mutating func load(from w: Safetensors, prefix: String) throws {
        for i in units.indices { try units[i].load(from: w, prefix: prefix + "conv.unit\(i).") }
        try residual?.load(from: w, prefix: prefix + "residual.")
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let res = try residual?.forward(x) ?? x
        var y = x
        for u in units { y = try u.forward(y) }
        return try TensorOps.add(y, res)
    }
}

/// A normalisation MONAI's networks choose with their `norm` argument.
public enum MonaiNormKind: Sendable, Equatable {
    /// Group norm with this many groups (always affine).
    case group(Int)
    /// Instance norm, with or without a per-channel affine.
    case instance(affine: Bool)
    /// Batch norm with running statistics (evaluation mode).
    case batch
}

/// One normalisation layer of a `MonaiNormKind`, with PyTorch's parameter names under its prefix
/// (`weight`, `bias`, `running_mean`, `running_var`).
enum MonaiNorm: Sendable {
    case group(GroupNorm)
    case instance(InstanceNorm3d)
    case batch(BatchNorm3d)

    init(_ kind: MonaiNormKind, channels: Int) {
        switch kind {
        case .group(let g): self = .group(GroupNorm(groups: g, channels: channels))
        case .instance(let affine): self = .instance(InstanceNorm3d(channels: channels, affine: affine))
        case .batch: self = .batch(BatchNorm3d(channels: channels))
        }
    }

    var parameterNames: [String] {
        switch self {
        case .group(let n): return n.parameterNames
        case .instance(let n): return n.parameterNames
        case .batch(let n): return n.parameterNames
        }
    }

    mutating func load(from w: Safetensors, prefix: String) throws {
        switch self {
        case .group(var n): try n.load(from: w, prefix: prefix); self = .group(n)
        case .instance(var n): try n.load(from: w, prefix: prefix); self = .instance(n)
        case .batch(var n): try n.load(from: w, prefix: prefix); self = .batch(n)
        }
    }

    /// The norm, then `v < 0 ? slope·v : v` when `slope` is given (0: ReLU).
    func forward(_ x: Tensor, slope: Float?) throws -> Tensor {
        switch self {
        case .instance(let n): return try n.forward(x, negativeSlope: slope)
        case .batch(let n): return try n.forward(x, negativeSlope: slope)
        case .group(let n):
            guard x.shape.count == 5, x.shape[1] == n.weight.count, n.groups > 0, n.weight.count % n.groups == 0 else { return try n.forward(x) }
            // The activation in the normalising pass.
            var y = x
            Normalization.groupedInPlace(&y, groups: n.groups, eps: n.eps, weight: n.weight, bias: n.bias, negativeSlope: slope)
            return y
        }
    }
}
