/// MONAI's `Convolution` block with its default "NDA" ordering: a convolution (or transposed convolution),
/// then instance norm (no affine, MONAI's default `INSTANCE`), dropout (identity at inference) and PReLU
/// with one shared slope — unless `convOnly`. State-dict names: `conv.weight`, `conv.bias`, `adn.A.weight`.
public struct MonaiConvolution: Sendable {
    public var conv: Conv3d?
    public var transposed: ConvTranspose3d?
    public var norm: InstanceNorm3d?
    public var act: PReLU?

    public init(inChannels: Int, outChannels: Int, stride: Int, kernel: Int, transposed isTransposed: Bool, convOnly: Bool) {
        let k = [kernel, kernel, kernel], s = [stride, stride, stride], p = Array(repeating: (kernel - 1) / 2, count: 3)
        if isTransposed {
            transposed = ConvTranspose3d(inChannels: inChannels, outChannels: outChannels, kernel: k, stride: s, padding: p,
                                         outputPadding: Array(repeating: stride - 1, count: 3))
        } else {
            conv = Conv3d(inChannels: inChannels, outChannels: outChannels, kernel: k, stride: s, padding: p)
        }
        if !convOnly {
            norm = InstanceNorm3d(channels: outChannels)
            act = PReLU(channels: 1)
        }
    }

    mutating func load(from w: Safetensors, prefix: String) throws {
        try conv?.load(from: w, prefix: prefix + "conv.")
        try transposed?.load(from: w, prefix: prefix + "conv.")
        try act?.load(from: w, prefix: prefix + "adn.A.")
    }

    func forward(_ x: Tensor) throws -> Tensor {
        var y = try conv?.forward(x) ?? transposed?.forward(x) ?? x
        if let norm { y = try norm.forward(y) }
        if let act { y = try act.forward(y) }
        return y
    }
}

/// MONAI's `ResidualUnit`: `subunits` Convolution blocks (the first with the stride) plus a residual path
/// that is the identity, or a convolution when the stride or channel count changes (kernel 1 when only the
/// channels change). Names: `conv.unit{i}.…`, `residual.weight`, `residual.bias`.
public struct MonaiResidualUnit: Sendable {
    public var units: [MonaiConvolution]
    public var residual: Conv3d?

    public init(inChannels: Int, outChannels: Int, stride: Int, kernel: Int, subunits: Int, lastConvOnly: Bool) {
        let n = max(1, subunits)
        units = (0..<n).map { i in
            MonaiConvolution(inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels, stride: i == 0 ? stride : 1,
                             kernel: kernel, transposed: false, convOnly: lastConvOnly && i == n - 1)
        }
        if stride != 1 || inChannels != outChannels {
            let k = stride == 1 ? 1 : kernel
            residual = Conv3d(inChannels: inChannels, outChannels: outChannels, kernel: [k, k, k], stride: [stride, stride, stride],
                              padding: Array(repeating: stride == 1 ? 0 : (kernel - 1) / 2, count: 3))
        }
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
