/// `torch.nn.Conv3d`: any kernel, stride, padding, dilation and groups, optional bias.
/// Weight `Cout × Cin/groups × kD × kH × kW`, bias `Cout`.
public struct Conv3d: ParameterizedLayer {
    public var weight: Tensor
    public var bias: Tensor?
    public var geometry: ConvGeometry
    public var groups: Int

    /// A zero-initialised convolution (load weights before use).
    public init(inChannels: Int, outChannels: Int, kernel: [Int], stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0],
                dilation: [Int] = [1, 1, 1], groups: Int = 1, bias: Bool = true) {
        weight = Tensor(zeros: [outChannels, inChannels / groups] + kernel)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        geometry = ConvGeometry(kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        self.groups = groups
    }

    public var parameterNames: [String] { bias == nil ? ["weight"] : ["weight", "bias"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        weight = try weights.tensor(prefix + "weight", shape: weight.shape)
        if let b = bias { bias = try weights.tensor(prefix + "bias", shape: b.shape) }
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, channels: weight.shape[1] * groups, "Conv3d")
        let out = geometry.outputSize(Array(x.shape[2...4]))
        guard out.allSatisfy({ $0 > 0 }) else { throw NNError.invalidInput("Conv3d: input \(x.shape) is smaller than the kernel") }
        return ConvolutionKernel.forward(input: x, weight: weight, bias: bias, geometry: geometry, groups: groups)
    }

    /// The convolution of the channel concatenation of `parts` (equal batch and spatial sizes), without
    /// building the concatenated tensor.
    /// - Throws: `NNError.invalidInput` when the parts do not fit together or the layer.
    public func forward(concatenating parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first, parts.allSatisfy({ $0.shape.count == 5 && $0.shape[0] == first.shape[0] && $0.shape[2...] == first.shape[2...] }) else {
            throw NNError.invalidInput("Conv3d: parts to concatenate need equal batch and spatial sizes, got \(parts.map(\.shape))")
        }
        let channels = parts.reduce(0) { $0 + $1.shape[1] }
        guard channels == weight.shape[1] * groups else {
            throw NNError.invalidInput("Conv3d expects \(weight.shape[1] * groups) channels, the parts have \(channels)")
        }
        let out = geometry.outputSize(Array(first.shape[2...4]))
        guard out.allSatisfy({ $0 > 0 }) else { throw NNError.invalidInput("Conv3d: input \(first.shape) is smaller than the kernel") }
        return ConvolutionKernel.forward(inputs: parts, weight: weight, bias: bias, geometry: geometry, groups: groups)
    }
}

/// `torch.nn.ConvTranspose3d`. Weight `Cin × Cout/groups × kD × kH × kW`, bias `Cout`.
public struct ConvTranspose3d: ParameterizedLayer {
    public var weight: Tensor
    public var bias: Tensor?
    public var geometry: ConvGeometry
    public var outputPadding: [Int]
    public var groups: Int

    /// A zero-initialised transposed convolution.
    public init(inChannels: Int, outChannels: Int, kernel: [Int], stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0],
                outputPadding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1], groups: Int = 1, bias: Bool = true) {
        weight = Tensor(zeros: [inChannels, outChannels / groups] + kernel)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        geometry = ConvGeometry(kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        self.outputPadding = outputPadding
        self.groups = groups
    }

    public var parameterNames: [String] { bias == nil ? ["weight"] : ["weight", "bias"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        weight = try weights.tensor(prefix + "weight", shape: weight.shape)
        if let b = bias { bias = try weights.tensor(prefix + "bias", shape: b.shape) }
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, channels: weight.shape[0], "ConvTranspose3d")
        return ConvolutionKernel.transposed(input: x, weight: weight, bias: bias, geometry: geometry, outputPadding: outputPadding, groups: groups)
    }
}

/// `torch.nn.Linear`: `y = x·Wᵀ + b` on `N × in` tensors. Weight `out × in`, bias `out`.
public struct Linear: ParameterizedLayer {
    public var weight: Tensor
    public var bias: Tensor?

    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
    }

    public var parameterNames: [String] { bias == nil ? ["weight"] : ["weight", "bias"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        weight = try weights.tensor(prefix + "weight", shape: weight.shape)
        if let b = bias { bias = try weights.tensor(prefix + "bias", shape: b.shape) }
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let inF = weight.shape[1], outF = weight.shape[0]
        guard x.shape.count == 2, x.shape[1] == inF else { throw NNError.invalidInput("Linear expects N × \(inF), got \(x.shape)") }
        let n = x.shape[0]
        var y = Tensor(zeros: [n, outF])
        if let bias { for b in 0..<n { for o in 0..<outF { y.data[b * outF + o] = bias.data[o] } } }
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress else { return }
                    GEMM.multiply(m: n, n: outF, k: inF, a: xb, lda: inF, b: wb, ldb: inF, transposeB: true, c: yb, ldc: outF, beta: 1)
                }
            }
        }
        return y
    }
}
