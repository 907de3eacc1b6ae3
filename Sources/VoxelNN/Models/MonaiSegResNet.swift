import VoxelCore

/// MONAI's `monai.networks.nets.SegResNet` (3D, without the VAE branch), with its parameter names so MONAI
/// checkpoints load directly: an initial 3×3×3 convolution, encoder levels of pre-activation residual blocks
/// (norm → activation → convolution, twice, plus the identity) with a stride-2 convolution entering each
/// level after the first, a decoder that halves the channels with a 1×1×1 convolution, upsamples by 2
/// (trilinear with `align_corners=False`, MONAI's "nontrainable", or a 2×2×2 transposed convolution,
/// "deconv") and adds the encoder's features, and a final norm → activation → 1×1×1 convolution.
/// Convolutions have no bias except the last; group norm (8 groups) and ReLU by default. Dropout is the
/// identity (inference).
///
/// Input `N × inChannels × D × H × W`, every spatial size a multiple of 2^(levels − 1); output
/// `N × outChannels × D × H × W` (logits).
public struct MonaiSegResNet: Network {
    public let inChannels: Int, outChannels: Int
    public let initFilters: Int
    public let blocksDown: [Int], blocksUp: [Int]
    public let upsampleMode: UpsampleMode
    let negativeSlope: Float
    /// MONAI's `dropout_prob` (channel dropout after the first convolution in training; the identity here).
    public internal(set) var dropout: Double = 0
    var convInit: Conv3d
    var downs: [(pre: Conv3d?, blocks: [ResBlock])]
    var upConvs: [Conv3d]
    var deconvs: [ConvTranspose3d]
    var upBlocks: [[ResBlock]]
    var finalNorm: Norm
    var finalConv: Conv3d

    /// How the decoder doubles the size.
    public enum UpsampleMode: String, Sendable {
        /// Trilinear interpolation, `align_corners=False` (MONAI's default).
        case nontrainable
        /// A 2×2×2 transposed convolution with bias.
        case deconv
    }

    /// The normalisation of the blocks (MONAI's `norm`).
    public typealias NormKind = MonaiNormKind
    typealias Norm = MonaiNorm

    /// MONAI's `ResBlock`: norm1 → act → conv1 → norm2 → act → conv2, plus the input.
    struct ResBlock: Sendable {
        var norm1: Norm, conv1: Conv3d, norm2: Norm, conv2: Conv3d

        init(channels: Int, norm: NormKind) {
            norm1 = Norm(norm, channels: channels)
            norm2 = Norm(norm, channels: channels)
            conv1 = MonaiSegResNet.conv(channels, channels, kernel: 3)
            conv2 = MonaiSegResNet.conv(channels, channels, kernel: 3)
        }

        func parameterNames(_ p: String) -> [String] {
            norm1.parameterNames.map { p + "norm1." + $0 } + conv1.parameterNames(under: p + "conv1.conv.")
                + norm2.parameterNames.map { p + "norm2." + $0 } + conv2.parameterNames(under: p + "conv2.conv.")
        }

        mutating func load(from w: Safetensors, prefix p: String) throws {
            try norm1.load(from: w, prefix: p + "norm1.")
            try conv1.load(from: w, prefix: p + "conv1.conv.")
            try norm2.load(from: w, prefix: p + "norm2.")
            try conv2.load(from: w, prefix: p + "conv2.conv.")
        }

        func forward(_ x: Tensor, slope: Float) throws -> Tensor {
            let h = try conv1.forward(norm1.forward(x, slope: slope))
            var y = try conv2.forward(norm2.forward(h, slope: slope))
            try TensorOps.addInPlace(&y, x)
            return y
        }
    }

    static func conv(_ i: Int, _ o: Int, kernel: Int, stride: Int = 1, bias: Bool = false) -> Conv3d {
        Conv3d(inChannels: i, outChannels: o, kernel: [kernel, kernel, kernel], stride: [stride, stride, stride],
               padding: Array(repeating: (kernel - 1) / 2, count: 3), bias: bias)
    }

    /// The network with zero weights; call `load` before use.
    /// - Throws: `NNError.invalidInput` for empty block lists, more decoder than encoder levels, or group counts
    ///   that do not divide the channels.
    public init(inChannels: Int, outChannels: Int, initFilters: Int = 8, blocksDown: [Int] = [1, 2, 2, 4], blocksUp: [Int] = [1, 1, 1],
                norm: NormKind = .group(8), negativeSlope: Float = 0, upsampleMode: UpsampleMode = .nontrainable) throws {
        guard !blocksDown.isEmpty, blocksUp.count < blocksDown.count, blocksDown.allSatisfy({ $0 >= 1 }), blocksUp.allSatisfy({ $0 >= 0 }) else {
            throw NNError.invalidInput("SegResNet: blocksDown needs at least one level and more levels than blocksUp")
        }
        if case .group(let g) = norm, g < 1 || initFilters % g != 0 {
            throw NNError.invalidInput("SegResNet: \(g) groups do not divide \(initFilters) initial filters")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.initFilters = initFilters
        self.blocksDown = blocksDown
        self.blocksUp = blocksUp
        self.upsampleMode = upsampleMode
        self.negativeSlope = negativeSlope
        convInit = Self.conv(inChannels, initFilters, kernel: 3)
        downs = blocksDown.enumerated().map { i, count in
            let c = initFilters << i
            return (i > 0 ? Self.conv(c / 2, c, kernel: 3, stride: 2) : nil, (0..<count).map { _ in ResBlock(channels: c, norm: norm) })
        }
        let n = blocksUp.count
        upConvs = (0..<n).map { i in let c = initFilters << (n - i); return Self.conv(c, c / 2, kernel: 1) }
        deconvs = upsampleMode == .deconv
            ? (0..<n).map { i in let c = (initFilters << (n - i)) / 2; return ConvTranspose3d(inChannels: c, outChannels: c, kernel: [2, 2, 2], stride: [2, 2, 2]) }
            : []
        upBlocks = (0..<n).map { i in (0..<blocksUp[i]).map { _ in ResBlock(channels: (initFilters << (n - i)) / 2, norm: norm) } }
        finalNorm = Norm(norm, channels: initFilters)
        finalConv = Self.conv(initFilters, outChannels, kernel: 1, bias: true)
    }

    public var sizeMultiple: Int { 1 << (blocksDown.count - 1) }
    public var isClassifier: Bool { false }

    public var parameterNames: [String] {
        var names = convInit.parameterNames(under: "convInit.conv.")
        for (i, d) in downs.enumerated() {
            names += d.pre?.parameterNames(under: "down_layers.\(i).0.conv.") ?? []
            for (j, b) in d.blocks.enumerated() { names += b.parameterNames("down_layers.\(i).\(j + 1).") }
        }
        for i in upConvs.indices {
            names += upConvs[i].parameterNames(under: "up_samples.\(i).0.conv.")
            if deconvs.indices.contains(i) { names += deconvs[i].parameterNames(under: "up_samples.\(i).1.deconv.") }
            for (j, b) in upBlocks[i].enumerated() { names += b.parameterNames("up_layers.\(i).\(j).") }
        }
        return names + finalNorm.parameterNames.map { "conv_final.0." + $0 } + finalConv.parameterNames(under: "conv_final.2.conv.")
    }

    /// Loads a MONAI SegResNet state_dict exported to safetensors; every tensor's shape is checked.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    public mutating func load(from w: Safetensors) throws {
        try convInit.load(from: w, prefix: "convInit.conv.")
        for i in downs.indices {
            try downs[i].pre?.load(from: w, prefix: "down_layers.\(i).0.conv.")
            for j in downs[i].blocks.indices { try downs[i].blocks[j].load(from: w, prefix: "down_layers.\(i).\(j + 1).") }
        }
        for i in upConvs.indices {
            try upConvs[i].load(from: w, prefix: "up_samples.\(i).0.conv.")
            if deconvs.indices.contains(i) { try deconvs[i].load(from: w, prefix: "up_samples.\(i).1.deconv.") }
            for j in upBlocks[i].indices { try upBlocks[i][j].load(from: w, prefix: "up_layers.\(i).\(j).") }
        }
        try finalNorm.load(from: w, prefix: "conv_final.0.")
        try finalConv.load(from: w, prefix: "conv_final.2.conv.")
    }

    /// Runs the network.
    /// - Throws: `NNError.invalidInput` for a wrong channel count or a size the levels do not divide.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "SegResNet")
        var h = try convInit.forward(x)
        var skips: [Tensor] = []
        for d in downs {
            if let pre = d.pre { h = try pre.forward(h) }
            for b in d.blocks { h = try b.forward(h, slope: negativeSlope) }
            skips.append(h)
        }
        skips.reverse()
        let upsample = Upsample(scale: 2, mode: .trilinear)
        for i in upConvs.indices {
            let reduced = try upConvs[i].forward(h)
            let up = deconvs.indices.contains(i) ? try deconvs[i].forward(reduced) : try upsample.forward(reduced)
            h = up
            try TensorOps.addInPlace(&h, skips[i + 1])
            for b in upBlocks[i] { h = try b.forward(h, slope: negativeSlope) }
        }
        return try finalConv.forward(finalNorm.forward(h, slope: negativeSlope))
    }
}

extension MonaiSegResNet {
    /// A SegResNet from its description: `{"type": "monai-segresnet", "in": 1, "out": 2}` with MONAI's
    /// defaults for `initFilters` 8, `blocksDown` [1, 2, 2, 4], `blocksUp` [1, 1, 1], `norm` "group"
    /// (`numGroups` 8; or "instance", "instance-affine", "batch"), `act` "relu" ("leakyrelu" with
    /// `negativeSlope`), `upsampleMode` "nontrainable" ("deconv"), `dropout` (the identity at inference).
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        let norm: NormKind
        switch try c.string("norm", "group") {
        case "group": norm = .group(try c.int("numGroups", 8, minimum: 1))
        case "instance": norm = .instance(affine: false)
        case "instance-affine": norm = .instance(affine: true)
        case "batch": norm = .batch
        case let other: throw NNError.invalidInput("monai-segresnet configuration: \"norm\" \"\(other)\" is not one of group, instance, instance-affine, batch")
        }
        let slope: Float
        switch try c.string("act", "relu") {
        case "relu": slope = 0
        case "leakyrelu": slope = Float(try c.double("negativeSlope", 0.01))
        case let other: throw NNError.invalidInput("monai-segresnet configuration: \"act\" \"\(other)\" is not one of relu, leakyrelu")
        }
        guard let mode = UpsampleMode(rawValue: try c.string("upsampleMode", "nontrainable")) else {
            throw NNError.invalidInput("monai-segresnet configuration: \"upsampleMode\" must be nontrainable or deconv")
        }
        let dropout = try c.double("dropout", 0)
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), initFilters: c.int("initFilters", 8, minimum: 1),
                      blocksDown: c.ints("blocksDown", [1, 2, 2, 4]), blocksUp: c.ints("blocksUp", [1, 1, 1], minimum: 0),
                      norm: norm, negativeSlope: slope, upsampleMode: mode)
        self.dropout = dropout
    }
}
