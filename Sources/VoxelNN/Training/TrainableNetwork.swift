/// A network that can run its forward pass in training mode on a `GradientTape`, reading its parameters
/// from the tape by state_dict name (so the same description trains and then runs in inference).
public protocol TrainableNetwork: Network {
    /// The forward pass in training mode (dropout active, batch norm on batch statistics), recorded on `tape`.
    /// - Throws: `NNError.invalidInput` when the input does not fit; `.missingWeight` when the tape's
    ///   parameters lack one.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable
}

extension MonaiConvolution {
    /// The block in training mode: convolution, then the normalisation and activation as one operation.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String, dropout: Double = 0) throws -> GradientTape.Variable {
        var y = x
        if let conv {
            y = try tape.conv3d(x, weight: tape.parameter(prefix + "conv.weight"),
                                bias: conv.bias == nil ? nil : tape.parameter(prefix + "conv.bias"), geometry: conv.geometry, groups: conv.groups)
        } else if let transposed {
            y = try tape.convTranspose3d(x, weight: tape.parameter(prefix + "conv.weight"),
                                         bias: transposed.bias == nil ? nil : tape.parameter(prefix + "conv.bias"),
                                         geometry: transposed.geometry, outputPadding: transposed.outputPadding, groups: transposed.groups)
        }
        guard let norm else {
            guard batchNorm == nil, activation == nil else {
                throw NNError.invalidInput("training MONAI Convolution blocks with batch norm or without a norm is not supported; use instance norm")
            }
            return y
        }
        let act: TrainingActivation
        switch activation {
        case .prelu?: act = .prelu(try tape.parameter(prefix + "adn.A.weight"))
        case .leakyReLU(let slope)?: act = .leaky(slope)
        case nil: act = .none
        }
        let affine = norm.weight != nil
        let weight = affine ? try tape.parameter(prefix + "adn.N.weight") : nil, bias = affine ? try tape.parameter(prefix + "adn.N.bias") : nil
        guard dropout > 0 else { return try tape.normActivation(y, groups: norm.channels, weight: weight, bias: bias, eps: norm.eps, activation: act) }
        // MONAI's ADN order "NDA": norm, dropout, activation.
        let normalized = try tape.normActivation(y, groups: norm.channels, weight: weight, bias: bias, eps: norm.eps, activation: .none)
        return try tape.activation(tape.dropout(normalized, probability: dropout), act)
    }
}

extension MonaiResidualUnit {
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String, dropout: Double = 0) throws -> GradientTape.Variable {
        var res = x
        if let residual {
            res = try tape.conv3d(x, weight: tape.parameter(prefix + "residual.weight"),
                                  bias: residual.bias == nil ? nil : tape.parameter(prefix + "residual.bias"),
                                  geometry: residual.geometry, groups: residual.groups)
        }
        var y = x
        for (i, unit) in units.enumerated() { y = try unit.forward(y, on: tape, prefix: prefix + "conv.unit\(i).", dropout: dropout) }
        return try tape.add(y, res)
    }
}

extension MonaiUNet: TrainableNetwork {
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "UNet")
        func down(_ d: Down, _ x: GradientTape.Variable, _ prefix: String) throws -> GradientTape.Variable {
            switch d {
            case .residual(let r): return try r.forward(x, on: tape, prefix: prefix, dropout: dropout)
            case .plain(let c): return try c.forward(x, on: tape, prefix: prefix, dropout: dropout)
            }
        }
        func up(_ u: Up, _ x: GradientTape.Variable, _ prefix: String) throws -> GradientTape.Variable {
            guard let unit = u.unit else { return try u.conv.forward(x, on: tape, prefix: prefix, dropout: dropout) }
            let y = try u.conv.forward(x, on: tape, prefix: prefix + "0.", dropout: dropout)
            return try unit.forward(y, on: tape, prefix: prefix + "1.", dropout: dropout)
        }
        func run(_ node: Node, _ x: GradientTape.Variable, _ prefix: String) throws -> GradientTape.Variable {
            switch node {
            case .bottom(let d): return try down(d, x, prefix)
            case .connection(let d, let sub, let u):
                let h = try down(d, x, prefix + "0.")
                let s = try run(sub, h, prefix + "1.submodule.")
                return try up(u, tape.concatChannels([h, s]), prefix + "2.")
            }
        }
        return try run(root, x, "model.")
    }
}

extension MonaiBasicUNet: TrainableNetwork {
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "BasicUNet")
        guard x.shape[2...].allSatisfy({ $0 >= 16 }) else {
            throw NNError.invalidInput("BasicUNet: every spatial size must be at least 16, got \(Array(x.shape[2...]))")
        }
        func two(_ t: TwoConv, _ x: GradientTape.Variable, _ prefix: String) throws -> GradientTape.Variable {
            try t.second.forward(t.first.forward(x, on: tape, prefix: prefix + "conv_0.", dropout: dropout), on: tape, prefix: prefix + "conv_1.", dropout: dropout)
        }
        var skips = [try two(conv0, x, "conv_0.")]
        for (i, down) in downs.enumerated() {
            skips.append(try two(down, tape.maxPool3d(skips[skips.count - 1], kernel: [2, 2, 2]), "down_\(i + 1).convs."))
        }
        var y = skips[4]
        for (i, up) in ups.enumerated() {
            let prefix = Self.upNames[i]
            let skip = skips[3 - i]
            var u = try tape.convTranspose3d(y, weight: tape.parameter(prefix + "upsample.deconv.weight"),
                                             bias: up.deconv.bias == nil ? nil : tape.parameter(prefix + "upsample.deconv.bias"),
                                             geometry: up.deconv.geometry, outputPadding: up.deconv.outputPadding)
            u = try tape.replicatePadEnd(u, to: Array(skip.shape[2...4]))
            y = try two(up.convs, tape.concatChannels([skip, u]), prefix + "convs.")
        }
        return try tape.conv3d(y, weight: tape.parameter("final_conv.weight"),
                               bias: finalConv.bias == nil ? nil : tape.parameter("final_conv.bias"), geometry: finalConv.geometry)
    }
}

extension MonaiResNet: TrainableNetwork {
    /// The forward pass in training mode: batch normalisation on batch statistics (recorded on the tape for
    /// the running statistics), logits as [N, classes, 1, 1, 1].
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "ResNet")
        func convBN(_ pair: (Conv3d, BatchNorm3d), _ x: GradientTape.Variable, conv: String, bn: String, relu: Bool) throws -> GradientTape.Variable {
            let y = try tape.conv3d(x, weight: tape.parameter(conv + "weight"), bias: pair.0.bias == nil ? nil : tape.parameter(conv + "bias"),
                                    geometry: pair.0.geometry, groups: pair.0.groups)
            return try tape.batchNorm(y, weight: tape.parameter(bn + "weight"), bias: tape.parameter(bn + "bias"), eps: pair.1.eps, relu: relu, name: bn)
        }
        var y = try convBN(stem, x, conv: "conv1.", bn: "bn1.", relu: true)
        if !noMaxPool { y = try tape.maxPool3d(y, kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]) }
        for (s, stage) in stages.enumerated() {
            for (b, block) in stage.enumerated() {
                let prefix = "layer\(s + 1).\(b)."
                var h = y
                for (i, pair) in block.convs.enumerated() {
                    h = try convBN(pair, h, conv: prefix + "conv\(i + 1).", bn: prefix + "bn\(i + 1).", relu: i < block.convs.count - 1)
                }
                let residual = try block.downsample.map { try convBN($0, y, conv: prefix + "downsample.0.", bn: prefix + "downsample.1.", relu: false) } ?? y
                y = tape.relu(try tape.add(h, residual))
            }
        }
        let pooled = try tape.globalAveragePool(y)
        return try tape.linear(pooled, weight: tape.parameter("fc.weight"), bias: fc.bias == nil ? nil : tape.parameter("fc.bias"))
    }
}

extension MonaiNorm {
    /// The norm and `act` in training mode, as one operation. Batch norm is refused: its running statistics are
    /// kept only by classifier training.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String, activation act: TrainingActivation) throws -> GradientTape.Variable {
        switch self {
        case .group(let n):
            return try tape.normActivation(x, groups: n.groups, weight: tape.parameter(prefix + "weight"), bias: tape.parameter(prefix + "bias"),
                                           eps: n.eps, activation: act)
        case .instance(let n):
            let affine = n.weight != nil
            return try tape.normActivation(x, groups: n.channels, weight: affine ? tape.parameter(prefix + "weight") : nil,
                                           bias: affine ? tape.parameter(prefix + "bias") : nil, eps: n.eps, activation: act)
        case .batch:
            throw NNError.invalidInput("training a segmentation network with batch norm is not supported; use group or instance norm")
        }
    }
}

extension MonaiSegResNet: TrainableNetwork {
    /// The forward pass in training mode, with MONAI's parameter names: pre-activation residual blocks, trilinear
    /// (or transposed-convolution) upsampling, and the final norm → activation → 1×1×1 convolution.
    /// - Throws: `NNError.invalidInput` for batch norm or `dropout` above 0 (MONAI's channel dropout is not built).
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "SegResNet")
        guard dropout == 0 else {
            throw NNError.invalidInput("SegResNet: training with dropout (MONAI's channel dropout after the first convolution) is not supported; set \"dropout\" to 0")
        }
        func conv(_ c: Conv3d, _ x: GradientTape.Variable, _ prefix: String) throws -> GradientTape.Variable {
            try c.forward(x, on: tape, prefix: prefix)
        }
        func block(_ b: ResBlock, _ x: GradientTape.Variable, _ p: String) throws -> GradientTape.Variable {
            let h = try conv(b.conv1, b.norm1.forward(x, on: tape, prefix: p + "norm1.", activation: .leaky(negativeSlope)), p + "conv1.conv.")
            let y = try conv(b.conv2, b.norm2.forward(h, on: tape, prefix: p + "norm2.", activation: .leaky(negativeSlope)), p + "conv2.conv.")
            return try tape.add(y, x)
        }
        var h = try conv(convInit, x, "convInit.conv.")
        var skips: [GradientTape.Variable] = []
        for (i, d) in downs.enumerated() {
            if let pre = d.pre { h = try conv(pre, h, "down_layers.\(i).0.conv.") }
            for (j, b) in d.blocks.enumerated() { h = try block(b, h, "down_layers.\(i).\(j + 1).") }
            skips.append(h)
        }
        skips.reverse()
        for i in upConvs.indices {
            let reduced = try conv(upConvs[i], h, "up_samples.\(i).0.conv.")
            if deconvs.indices.contains(i) {
                h = try deconvs[i].forward(reduced, on: tape, prefix: "up_samples.\(i).1.deconv.")
            } else {
                h = try tape.upsample(reduced, scale: 2, mode: .trilinear)
            }
            h = try tape.add(h, skips[i + 1])
            for (j, b) in upBlocks[i].enumerated() { h = try block(b, h, "up_layers.\(i).\(j).") }
        }
        return try conv(finalConv, finalNorm.forward(h, on: tape, prefix: "conv_final.0.", activation: .leaky(negativeSlope)), "conv_final.2.conv.")
    }
}

extension Conv3d {
    /// The convolution on the tape, its parameters read by state_dict name under `prefix`.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String) throws -> GradientTape.Variable {
        try tape.conv3d(x, weight: tape.parameter(prefix + "weight"), bias: bias == nil ? nil : tape.parameter(prefix + "bias"),
                        geometry: geometry, groups: groups)
    }
}

extension ConvTranspose3d {
    /// The transposed convolution on the tape, its parameters read by state_dict name under `prefix`.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String) throws -> GradientTape.Variable {
        try tape.convTranspose3d(x, weight: tape.parameter(prefix + "weight"), bias: bias == nil ? nil : tape.parameter(prefix + "bias"),
                                 geometry: geometry, outputPadding: outputPadding, groups: groups)
    }
}

extension MonaiDynUNet.Block {
    /// `UnetBasicBlock` (conv → norm → act, twice) or `UnetResBlock` (the second activation after adding the
    /// input, through a 1×1×1 convolution and norm when the shape changes) in training mode.
    func forward(_ x: GradientTape.Variable, on tape: GradientTape, prefix p: String) throws -> GradientTape.Variable {
        let act: TrainingActivation
        switch activation {
        case .leakyReLU(let s): act = .leaky(s)
        case .prelu: act = .prelu(try tape.parameter(p + "lrelu.weight"))
        }
        let h = try norm1.forward(conv1.forward(x, on: tape, prefix: p + "conv1.conv."), on: tape, prefix: p + "norm1.", activation: act)
        let c2 = try conv2.forward(h, on: tape, prefix: p + "conv2.conv.")
        guard residual else { return try norm2.forward(c2, on: tape, prefix: p + "norm2.", activation: act) }
        let y = try norm2.forward(c2, on: tape, prefix: p + "norm2.", activation: .none)
        var r = x
        if let conv3, let norm3 {
            r = try norm3.forward(conv3.forward(x, on: tape, prefix: p + "conv3.conv."), on: tape, prefix: p + "norm3.", activation: .none)
        }
        return try tape.activation(tape.add(y, r), act)
    }
}

extension MonaiDynUNet: TrainableNetwork {
    /// The forward pass in training mode with MONAI's parameter names. Only the main output is trained: deep
    /// supervision heads, if the description asks for them, get no gradient.
    /// - Throws: `NNError.invalidInput` for batch norm, `dropout` above 0, or sizes the strides do not divide.
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "DynUNet")
        guard dropout == 0 else { throw NNError.invalidInput("DynUNet: training with dropout is not supported; set \"dropout\" to 0") }
        var skips: [GradientTape.Variable] = []
        var h = x
        for (i, block) in encoder.enumerated() {
            h = try block.forward(h, on: tape, prefix: encoderPrefix(i))
            skips.append(h)
        }
        skips.removeLast()
        for j in decoder.indices {
            let up = try transpconvs[j].forward(h, on: tape, prefix: "upsamples.\(j).transp_conv.conv.")
            guard let skip = skips.popLast() else { break }
            guard up.shape[2...] == skip.shape[2...] else {
                throw NNError.invalidInput("DynUNet: upsampled \(Array(up.shape[2...])) does not match the skip \(Array(skip.shape[2...]))")
            }
            h = try decoder[j].forward(tape.concatChannels([up, skip]), on: tape, prefix: "upsamples.\(j).conv_block.")
        }
        return try output.forward(h, on: tape, prefix: "output_block.conv.conv.")
    }
}

extension MonaiNorm {
    /// A classifier's norm and ReLU (or none) in training mode: batch norm on batch statistics, recorded under
    /// `prefix` for the running statistics; group and instance norm as in segmentation networks.
    func classifierForward(_ x: GradientTape.Variable, on tape: GradientTape, prefix: String, relu: Bool) throws -> GradientTape.Variable {
        guard case .batch(let n) = self else { return try forward(x, on: tape, prefix: prefix, activation: relu ? .leaky(0) : .none) }
        return try tape.batchNorm(x, weight: tape.parameter(prefix + "weight"), bias: tape.parameter(prefix + "bias"), eps: n.eps, relu: relu, name: prefix)
    }
}

extension MonaiDenseNet: TrainableNetwork {
    /// The forward pass in training mode (batch norm on batch statistics), logits as [N, classes, 1, 1, 1].
    /// - Throws: `NNError.invalidInput` for `dropout` above 0, or an input the poolings shrink to nothing.
    public func forward(_ x: GradientTape.Variable, on tape: GradientTape) throws -> GradientTape.Variable {
        try checkInput(x.value, "DenseNet")
        guard dropout == 0 else { throw NNError.invalidInput("DenseNet: training with dropout is not supported; set \"dropout\" to 0") }
        var h = try norm0.classifierForward(conv0.forward(x, on: tape, prefix: "features.conv0."), on: tape, prefix: "features.norm0.", relu: true)
        h = try tape.maxPool3d(h, kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1])
        for b in blocks.indices {
            for (l, layer) in blocks[b].enumerated() {
                let p = "features.denseblock\(b + 1).denselayer\(l + 1).layers."
                let bottleneck = try layer.conv1.forward(layer.norm1.classifierForward(h, on: tape, prefix: p + "norm1.", relu: true), on: tape, prefix: p + "conv1.")
                let new = try layer.conv2.forward(layer.norm2.classifierForward(bottleneck, on: tape, prefix: p + "norm2.", relu: true), on: tape, prefix: p + "conv2.")
                h = try tape.concatChannels([h, new])
            }
            if transitions.indices.contains(b) {
                guard h.shape[2...].allSatisfy({ $0 >= 2 }) else {
                    throw NNError.invalidInput("DenseNet: input \(Array(x.shape[2...])) is too small (a transition's pooling would leave nothing)")
                }
                let p = "features.transition\(b + 1)."
                h = try transitions[b].conv.forward(transitions[b].norm.classifierForward(h, on: tape, prefix: p + "norm.", relu: true), on: tape, prefix: p + "conv.")
                h = try tape.avgPool3d(h, kernel: [2, 2, 2])
            }
        }
        let pooled = try tape.globalAveragePool(norm5.classifierForward(h, on: tape, prefix: "features.norm5.", relu: true))
        return try tape.linear(pooled, weight: tape.parameter("class_layers.out.weight"), bias: fc.bias == nil ? nil : tape.parameter("class_layers.out.bias"))
    }
}
