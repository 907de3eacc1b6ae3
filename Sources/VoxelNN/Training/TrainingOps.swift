import VoxelSupport

/// The activation fused after a normalisation in training mode.
public enum TrainingActivation {
    case none
    /// LeakyReLU (0: ReLU) with a fixed slope.
    case leaky(Float)
    /// PReLU with learned slopes (one shared, or one per channel).
    case prelu(GradientTape.Variable)
}

/// Differentiable operations: each computes its output with the inference kernels and records its backward pass.
extension GradientTape {
    /// `torch.nn.functional.conv3d`. Keeps the input (for the weight gradient).
    public func conv3d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry, groups: Int = 1) throws -> Variable {
        try requireRank(x.value, 5, channels: weight.shape[1] * groups, "Conv3d")
        let out = geometry.outputSize(Array(x.shape[2...4]))
        guard out.allSatisfy({ $0 > 0 }) else { throw NNError.invalidInput("Conv3d: input \(x.shape) is smaller than the kernel") }
        let y = ConvolutionKernel.forward(input: x.value, weight: weight.value, bias: bias?.value, geometry: geometry, groups: groups)
        let input = x, w = weight, b = bias
        return record(y) { dy, tape in
            tape.accumulate(w, ConvolutionKernel.weightGradient(input: input.value, outputGradient: dy, geometry: geometry, groups: groups))
            if let b { tape.accumulate(b, ConvolutionKernel.biasGradient(outputGradient: dy)) }
            if tape.needsGradient(input) {
                tape.accumulate(input, ConvolutionKernel.inputGradient(outputGradient: dy, weight: w.value, geometry: geometry, groups: groups,
                                                                       inputSize: Array(input.shape[2...4])))
            }
        }
    }

    /// `torch.nn.functional.conv_transpose3d`. Keeps the input (for the weight gradient).
    public func convTranspose3d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry, outputPadding: [Int],
                                groups: Int = 1) throws -> Variable {
        try requireRank(x.value, 5, channels: weight.shape[0], "ConvTranspose3d")
        let y = ConvolutionKernel.transposed(input: x.value, weight: weight.value, bias: bias?.value, geometry: geometry,
                                             outputPadding: outputPadding, groups: groups)
        let input = x, w = weight, b = bias
        return record(y) { dy, tape in
            // A transposed convolution is the adjoint of a convolution: its input gradient is the convolution
            // of dy, and its weight gradient the convolution weight gradient with input and output swapped.
            tape.accumulate(w, ConvolutionKernel.weightGradient(input: dy, outputGradient: input.value, geometry: geometry, groups: groups))
            if let b { tape.accumulate(b, ConvolutionKernel.biasGradient(outputGradient: dy)) }
            if tape.needsGradient(input) {
                tape.accumulate(input, ConvolutionKernel.forward(input: dy, weight: w.value, bias: nil, geometry: geometry, groups: groups))
            }
        }
    }

    /// `torch.nn.Upsample(scale_factor: scale, mode: nearest | trilinear, align_corners=False)`.
    public func upsample(_ x: Variable, scale: Int, mode: Upsample.Mode) throws -> Variable {
        let layer = Upsample(scale: scale, mode: mode)
        let y = try layer.forward(x.value)
        let inputSize = Array(x.shape[2...4])
        return record(y) { dy, tape in
            if tape.needsGradient(x) { tape.accumulate(x, layer.inputGradient(dy, inputSize: inputSize)) }
        }
    }

    /// Elementwise sum of equal shapes.
    public func add(_ a: Variable, _ b: Variable) throws -> Variable {
        let y = try TensorOps.add(a.value, b.value)
        return record(y) { dy, tape in
            tape.accumulate(a, dy)
            tape.accumulate(b, dy)
        }
    }

    /// Concatenation along the channel axis.
    public func concatChannels(_ parts: [Variable]) throws -> Variable {
        let y = try TensorOps.concatChannels(parts.map(\.value))
        let channels = parts.map { $0.shape[1] }
        return record(y) { dy, tape in
            let (n, c, s) = dy.ncs
            var offset = 0
            for (part, pc) in zip(parts, channels) {
                var g = Tensor(zeros: [n, pc] + Array(dy.shape[2...]))
                for b in 0..<n {
                    let from = (b * c + offset) * s, count = pc * s
                    g.data.replaceSubrange((b * count)..<((b + 1) * count), with: dy.data[from..<(from + count)])
                }
                offset += pc
                tape.accumulate(part, g)
            }
        }
    }

    /// Whether a gradient for `v` is of use: false for constants (the input batch).
    func needsGradient(_ v: Variable) -> Bool { !constants.contains(v.id) }
}

extension GradientTape {
    /// `torch.nn.functional.max_pool3d` (padding counts as −∞). Keeps the index of each window's maximum (the
    /// first one on ties, as PyTorch picks it); the gradient goes to that element only.
    public func maxPool3d(_ x: Variable, kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0]) throws -> Variable {
        try requireRank(x.value, 5, "MaxPool3d")
        let g = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
        let (n, c, inSpatial) = x.value.ncs
        let inSize = Array(x.shape[2...4]), out = g.outputSize(inSize)
        guard out.allSatisfy({ $0 > 0 }) else { throw NNError.invalidInput("MaxPool3d: input \(x.shape) is smaller than the window") }
        let outSpatial = out.reduce(1, *)
        var y = Tensor(zeros: [n, c] + out)
        var argmax = [Int32](repeating: 0, count: y.count)
        for plane in 0..<(n * c) {
            for od in 0..<out[0] { for oh in 0..<out[1] { for ow in 0..<out[2] {
                var best = -Float.infinity, at = -1
                for kd in 0..<kernel[0] { for kh in 0..<kernel[1] { for kw in 0..<kernel[2] {
                    let d = od * g.stride[0] + kd - padding[0], h = oh * g.stride[1] + kh - padding[1], w = ow * g.stride[2] + kw - padding[2]
                    guard d >= 0, h >= 0, w >= 0, d < inSize[0], h < inSize[1], w < inSize[2] else { continue }
                    let i = (d * inSize[1] + h) * inSize[2] + w
                    let v = x.value.data[plane * inSpatial + i]
                    if at < 0 || v > best || v.isNaN { best = v; at = i }
                } } }
                let o = plane * outSpatial + (od * out[1] + oh) * out[2] + ow
                y.data[o] = best
                argmax[o] = Int32(at)
            } } }
        }
        let input = x, indices = argmax
        return record(y) { dy, tape in
            guard tape.needsGradient(input) else { return }
            var dx = Tensor(zeros: input.shape)
            for o in 0..<dy.count where indices[o] >= 0 { dx.data[(o / outSpatial) * inSpatial + Int(indices[o])] += dy.data[o] }
            tape.accumulate(input, dx)
        }
    }

    /// Grows the spatial axes at their end to `size` by repeating the last slice (MONAI's replicate padding
    /// of an upsampled tensor); the gradient of the repeated slices is summed back onto the last one.
    public func replicatePadEnd(_ x: Variable, to size: [Int]) throws -> Variable {
        let inSize = Array(x.shape[2...4])
        if inSize == size { return x }
        let y = try TensorOps.replicatePadEnd(x.value, to: size)
        let input = x
        return record(y) { dy, tape in
            let (n, c, inSpatial) = input.value.ncs
            let outSpatial = size.reduce(1, *)
            var dx = Tensor(zeros: input.shape)
            for plane in 0..<(n * c) {
                for d in 0..<size[0] { for h in 0..<size[1] { for w in 0..<size[2] {
                    let from = ((min(d, inSize[0] - 1) * inSize[1]) + min(h, inSize[1] - 1)) * inSize[2] + min(w, inSize[2] - 1)
                    dx.data[plane * inSpatial + from] += dy.data[plane * outSpatial + (d * size[1] + h) * size[2] + w]
                } } }
            }
            tape.accumulate(input, dx)
        }
    }
}
