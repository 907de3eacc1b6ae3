import VoxelCore

/// MONAI's `monai.networks.nets.BasicUNet` (3D) with its parameter names: five levels of two 3×3×3
/// convolutions (instance norm with affine, LeakyReLU), 2× max pooling down, 2×2×2 transposed convolutions
/// up ("deconv", MONAI's default), skip connections by concatenation (encoder features first) and a final
/// 1×1×1 convolution. Dropout is active in training only.
///
/// Input `N × inChannels × D × H × W` with every spatial size at least 16 (odd sizes are handled as MONAI
/// does: pooling drops the last slice, upsampling repeats it); output `N × outChannels × D × H × W` (logits).
public struct MonaiBasicUNet: Network {
    public let inChannels: Int, outChannels: Int
    /// MONAI's `features`: the five encoder widths, then the width of the last decoder level.
    public let features: [Int]
    public let negativeSlope: Float
    /// The dropout probability of every two-convolution block (MONAI's `dropout`, norm → dropout → activation):
    /// active in training (`forward(_:on:)`), the identity at inference.
    public var dropout: Double = 0
    var conv0: TwoConv
    var downs: [TwoConv]
    var ups: [UpCat]
    var finalConv: Conv3d

    /// MONAI's `TwoConv`: two Convolution blocks (`conv_0`, `conv_1`).
    struct TwoConv: Sendable {
        var first: MonaiConvolution, second: MonaiConvolution

        init(_ inChannels: Int, _ outChannels: Int, slope: Float) {
            first = MonaiConvolution(inChannels: inChannels, outChannels: outChannels, stride: 1, kernel: 3, transposed: false,
                                     convOnly: false, normAffine: true, activation: .leakyReLU(slope))
            second = MonaiConvolution(inChannels: outChannels, outChannels: outChannels, stride: 1, kernel: 3, transposed: false,
                                      convOnly: false, normAffine: true, activation: .leakyReLU(slope))
        }

        func parameterNames(prefix: String) -> [String] {
            first.parameterNames(prefix: prefix + "conv_0.") + second.parameterNames(prefix: prefix + "conv_1.")
        }

        mutating func load(from w: Safetensors, prefix: String) throws {
            try first.load(from: w, prefix: prefix + "conv_0.")
            try second.load(from: w, prefix: prefix + "conv_1.")
        }

        func forward(_ x: Tensor) throws -> Tensor { try second.forward(first.forward(x)) }
    }

    /// MONAI's `UpCat`: a transposed convolution (`upsample.deconv`), then `TwoConv` on [skip, upsampled].
    struct UpCat: Sendable {
        var deconv: ConvTranspose3d
        var convs: TwoConv

        init(inChannels: Int, catChannels: Int, outChannels: Int, halves: Bool, slope: Float) {
            let up = halves ? inChannels / 2 : inChannels
            deconv = ConvTranspose3d(inChannels: inChannels, outChannels: up, kernel: [2, 2, 2], stride: [2, 2, 2])
            convs = TwoConv(catChannels + up, outChannels, slope: slope)
        }

        func parameterNames(prefix: String) -> [String] {
            deconv.parameterNames(under: prefix + "upsample.deconv.") + convs.parameterNames(prefix: prefix + "convs.")
        }

        mutating func load(from w: Safetensors, prefix: String) throws {
            try deconv.load(from: w, prefix: prefix + "upsample.deconv.")
            try convs.load(from: w, prefix: prefix + "convs.")
        }

        /// Upsamples `x`; where pooling dropped an odd last slice, the upsampled tensor is one short and gets
        /// its last slice repeated (MONAI's replicate padding), then joins `skip`.
        func forward(_ x: Tensor, skip: Tensor) throws -> Tensor {
            var up = try deconv.forward(x)
            if up.shape[2...] != skip.shape[2...] { up = try TensorOps.replicatePadEnd(up, to: Array(skip.shape[2...])) }
            return try convs.second.forward(convs.first.forward(concatenating: [skip, up]))
        }
    }

    /// The network with zero weights; call `load` before use.
    /// - Throws: `NNError.invalidInput` unless `features` has six positive entries.
    public init(inChannels: Int, outChannels: Int, features: [Int] = [32, 32, 64, 128, 256, 32], negativeSlope: Float = 0.1) throws {
        guard features.count == 6, features.allSatisfy({ $0 > 0 }) else {
            throw NNError.invalidInput("BasicUNet needs six positive feature counts, got \(features)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.features = features
        self.negativeSlope = negativeSlope
        let f = features
        conv0 = TwoConv(inChannels, f[0], slope: negativeSlope)
        downs = (1...4).map { TwoConv(f[$0 - 1], f[$0], slope: negativeSlope) }
        ups = [
            UpCat(inChannels: f[4], catChannels: f[3], outChannels: f[3], halves: true, slope: negativeSlope),
            UpCat(inChannels: f[3], catChannels: f[2], outChannels: f[2], halves: true, slope: negativeSlope),
            UpCat(inChannels: f[2], catChannels: f[1], outChannels: f[1], halves: true, slope: negativeSlope),
            UpCat(inChannels: f[1], catChannels: f[0], outChannels: f[5], halves: false, slope: negativeSlope),
        ]
        finalConv = Conv3d(inChannels: f[5], outChannels: outChannels, kernel: [1, 1, 1])
    }

    public var sizeMultiple: Int { 1 }
    public var isClassifier: Bool { false }

    /// MONAI's names: `conv_0`, `down_1…4.convs`, `upcat_4…1`, `final_conv`.
    static let upNames = ["upcat_4.", "upcat_3.", "upcat_2.", "upcat_1."]

    public var parameterNames: [String] {
        conv0.parameterNames(prefix: "conv_0.")
            + downs.indices.flatMap { downs[$0].parameterNames(prefix: "down_\($0 + 1).convs.") }
            + ups.indices.flatMap { ups[$0].parameterNames(prefix: Self.upNames[$0]) }
            + finalConv.parameterNames(under: "final_conv.")
    }

    public mutating func load(from weights: Safetensors) throws {
        try conv0.load(from: weights, prefix: "conv_0.")
        for i in downs.indices { try downs[i].load(from: weights, prefix: "down_\(i + 1).convs.") }
        for i in ups.indices { try ups[i].load(from: weights, prefix: Self.upNames[i]) }
        try finalConv.load(from: weights, prefix: "final_conv.")
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "BasicUNet")
        guard x.shape[2...].allSatisfy({ $0 >= 16 }) else {
            throw NNError.invalidInput("BasicUNet: every spatial size must be at least 16, got \(Array(x.shape[2...]))")
        }
        let pool = MaxPool3d(kernel: [2, 2, 2])
        var skips = [try conv0.forward(x)]
        for down in downs { skips.append(try down.forward(pool.forward(skips[skips.count - 1]))) }
        var y = skips[4]
        for (i, up) in ups.enumerated() { y = try up.forward(y, skip: skips[3 - i]) }
        return try finalConv.forward(y)
    }
}

extension MonaiBasicUNet {
    /// A BasicUNet from its description: `{"type": "monai-basicunet", "in": 1, "out": 2, "features": [32, 32,
    /// 64, 128, 256, 32], "negativeSlope": 0.1, "dropout": 0}` (`features`, `negativeSlope` and `dropout`
    /// default to MONAI's).
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        let dropout = try c.double("dropout", 0)
        guard (0..<1).contains(dropout) else { throw NNError.invalidInput("monai-basicunet configuration: \"dropout\" must be at least 0 and below 1, got \(dropout)") }
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1),
                      features: c.ints("features", [32, 32, 64, 128, 256, 32]), negativeSlope: Float(c.double("negativeSlope", 0.1)))
        self.dropout = dropout
    }
}
