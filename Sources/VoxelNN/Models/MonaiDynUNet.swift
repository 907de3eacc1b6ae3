import VoxelSupport

/// MONAI's `monai.networks.nets.DynUNet` (3D), the nnU-Net-style U-Net MONAI bundles use, with its parameter
/// names so MONAI checkpoints load directly. Every level has its own kernel size and stride (anisotropic ones
/// included): an input block, downsampling blocks, a bottleneck, then per level up a transposed convolution
/// (kernel = stride = that level's `upsampleKernelSize`) whose output is concatenated with the level's skip
/// (transposed output first) and passed through a basic block, and a 1×1×1 output convolution with bias.
///
/// A basic block (`UnetBasicBlock`) is conv → norm → act → conv → norm → act; a residual block (`UnetResBlock`,
/// `resBlock: true`) adds the input — projected by a bias-free 1×1×1 convolution with the block's stride and
/// a norm when the shape changes — before the last activation. Convolutions have no bias and padding
/// `⌊(kernel − stride + 1) / 2⌋`. Instance norm with affine and LeakyReLU(0.01) by default, as MONAI.
/// Dropout is the identity (inference); deep-supervision heads are a training device and are not built.
///
/// State-dict names: `input_block.…`, `downsamples.{i}.…`, `bottleneck.…` with `conv1.conv.weight`,
/// `norm1.weight`, … `conv3.conv.weight`, `norm3.…`, `lrelu.weight` (PReLU); `upsamples.{i}.transp_conv.conv.weight`
/// (and `.bias` with `transBias`), `upsamples.{i}.conv_block.…`; `output_block.conv.conv.weight`/`.bias`. The
/// aliases PyTorch also saves (`skip_layers.…`) and the heads (`deep_supervision_heads.…`) are `isAlias`.
///
/// Input `N × inChannels × D × H × W`, each spatial size a multiple of the product of the strides along that
/// axis (`sizeMultiples`); output `N × outChannels × D × H × W` (logits).
public struct MonaiDynUNet: Network {
    /// The activation of every block.
    public enum Activation: Sendable, Equatable {
        /// LeakyReLU with this negative slope (0: ReLU).
        case leakyReLU(Float)
        /// PReLU with one learned slope per block (parameter `lrelu.weight`).
        case prelu
    }

    /// `UnetBasicBlock` or `UnetResBlock`.
    struct Block: Sendable {
        var conv1: Conv3d, norm1: MonaiNorm
        var conv2: Conv3d, norm2: MonaiNorm
        var conv3: Conv3d?, norm3: MonaiNorm?
        var residual: Bool
        var activation: Activation
        var prelu: PReLU?

        init(_ cin: Int, _ cout: Int, kernel: [Int], stride: [Int], norm: MonaiNormKind, activation: Activation, residual: Bool) {
            conv1 = MonaiDynUNet.conv(cin, cout, kernel: kernel, stride: stride)
            conv2 = MonaiDynUNet.conv(cout, cout, kernel: kernel, stride: [1, 1, 1])
            norm1 = MonaiNorm(norm, channels: cout)
            norm2 = MonaiNorm(norm, channels: cout)
            self.residual = residual
            self.activation = activation
            if activation == .prelu { prelu = PReLU(channels: 1) }
            if residual, cin != cout || stride.contains(where: { $0 != 1 }) {
                conv3 = MonaiDynUNet.conv(cin, cout, kernel: [1, 1, 1], stride: stride)
                norm3 = MonaiNorm(norm, channels: cout)
            }
        }

        var slope: Float {
            switch activation {
            case .leakyReLU(let s): return s
            case .prelu: return prelu?.weight.data.first ?? 0.25
            }
        }

        func names(_ p: String) -> [String] {
            var names = conv1.parameterNames(under: p + "conv1.conv.") + norm1.parameterNames.map { p + "norm1." + $0 }
                + conv2.parameterNames(under: p + "conv2.conv.") + norm2.parameterNames.map { p + "norm2." + $0 }
            if let conv3, let norm3 { names += conv3.parameterNames(under: p + "conv3.conv.") + norm3.parameterNames.map { p + "norm3." + $0 } }
            return names + (prelu?.parameterNames(under: p + "lrelu.") ?? [])
        }

        mutating func load(_ w: Safetensors, _ p: String) throws {
            try conv1.load(from: w, prefix: p + "conv1.conv.")
            try norm1.load(from: w, prefix: p + "norm1.")
            try conv2.load(from: w, prefix: p + "conv2.conv.")
            try norm2.load(from: w, prefix: p + "norm2.")
            try conv3?.load(from: w, prefix: p + "conv3.conv.")
            try norm3?.load(from: w, prefix: p + "norm3.")
            try prelu?.load(from: w, prefix: p + "lrelu.")
        }

        func forward(_ x: Tensor) throws -> Tensor { try finish(conv1.forward(x), input: x) }

        /// The block on the channel concatenation of `parts`, read in place by the first convolution.
        func forward(concatenating parts: [Tensor]) throws -> Tensor {
            guard !residual else { return try forward(TensorOps.concatChannels(parts)) }
            return try finish(conv1.forward(concatenating: parts), input: nil)
        }

        private func finish(_ c1: Tensor, input: Tensor?) throws -> Tensor {
            let s = slope
            let h = try norm1.forward(c1, slope: s)
            guard residual, let input else { return try norm2.forward(conv2.forward(h), slope: s) }
            var y = try norm2.forward(conv2.forward(h), slope: nil)
            var r = input
            if let conv3, let norm3 { r = try norm3.forward(conv3.forward(input), slope: nil) }
            guard y.shape == r.shape else { throw NNError.invalidInput("DynUNet residual block: shapes \(y.shape) and \(r.shape) differ") }
            y.data.withUnsafeMutableBufferPointer { out in
                r.data.withUnsafeBufferPointer { rb in
                    for i in out.indices {
                        let v = out[i] + rb[i]
                        out[i] = v < 0 ? v * s : v
                    }
                }
            }
            return y
        }
    }

    public let inChannels: Int
    public let outChannels: Int
    /// Channels of each level, top to bottom.
    public let filters: [Int]
    /// Kernel size and stride of each level (D, H, W).
    public let kernels: [[Int]], strides: [[Int]]
    /// The product of the strides along each axis.
    public let divisor: [Int]
    public var sizeMultiple: Int { divisor.max() ?? 1 }
    public var sizeMultiples: [Int] { divisor }
    public var isClassifier: Bool { false }

    /// MONAI's `dropout` (in every block in training; the identity here).
    public internal(set) var dropout: Double = 0
    var encoder: [Block]
    var transpconvs: [ConvTranspose3d]
    var decoder: [Block]
    var output: Conv3d

    static func conv(_ cin: Int, _ cout: Int, kernel: [Int], stride: [Int], bias: Bool = false) -> Conv3d {
        Conv3d(inChannels: cin, outChannels: cout, kernel: kernel, stride: stride,
               padding: zip(kernel, stride).map { max(0, ($0 - $1 + 1) / 2) }, bias: bias)
    }

    /// The network with zero weights; call `load` before use.
    /// - Parameters:
    ///   - kernels, strides: one `[D, H, W]` per level (at least 3 levels; the first stride is usually 1).
    ///   - upsampleKernels: one per level below the first (kernel and stride of the transposed convolutions).
    ///   - filters: channels per level; nil gives MONAI's default `min(2^(5+i), 320)`.
    /// - Throws: `NNError.invalidInput` for fewer than 3 levels, lists of different lengths, entries that are
    ///   not 3 positive numbers, or a kernel smaller than its stride.
    public init(inChannels: Int, outChannels: Int, kernels: [[Int]], strides: [[Int]], upsampleKernels: [[Int]], filters: [Int]? = nil,
                norm: MonaiNormKind = .instance(affine: true), activation: Activation = .leakyReLU(0.01), residual: Bool = false,
                transBias: Bool = false) throws {
        let n = strides.count
        guard n >= 3, kernels.count == n else {
            throw NNError.invalidInput("DynUNet: kernelSize and strides need the same number of levels, at least 3 (got \(kernels.count) and \(n))")
        }
        guard upsampleKernels.count == n - 1 else {
            throw NNError.invalidInput("DynUNet: upsampleKernelSize needs \(n - 1) entries (one per level below the first), got \(upsampleKernels.count)")
        }
        for (name, list) in [("kernelSize", kernels), ("strides", strides), ("upsampleKernelSize", upsampleKernels)] {
            guard list.allSatisfy({ $0.count == 3 && $0.allSatisfy { $0 >= 1 } }) else {
                throw NNError.invalidInput("DynUNet: every \(name) entry must be 3 positive numbers (or one)")
            }
        }
        guard zip(kernels, strides).allSatisfy({ zip($0, $1).allSatisfy { $0 - $1 + 1 >= 0 } }) else {
            throw NNError.invalidInput("DynUNet: a kernel smaller than its stride minus one gives negative padding")
        }
        let filters = filters.map { Array($0.prefix(n)) } ?? (0..<n).map { min(1 << (5 + $0), 320) }
        guard filters.count == n, filters.allSatisfy({ $0 >= 1 }) else {
            throw NNError.invalidInput("DynUNet: filters needs at least \(n) positive entries (one per level)")
        }
        if case .group(let g) = norm, g < 1 || filters.contains(where: { $0 % g != 0 }) {
            throw NNError.invalidInput("DynUNet: \(g) groups do not divide the filters \(filters)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.filters = filters
        self.kernels = kernels
        self.strides = strides
        var divisor = [1, 1, 1]
        for s in strides { for a in 0..<3 { divisor[a] *= s[a] } }
        self.divisor = divisor
        encoder = (0..<n).map { i in
            Block(i == 0 ? inChannels : filters[i - 1], filters[i], kernel: kernels[i], stride: strides[i], norm: norm, activation: activation, residual: residual)
        }
        // upsamples[j] goes from level n−1−j to level n−2−j.
        transpconvs = (0..<(n - 1)).map { j in
            let below = n - 1 - j
            return ConvTranspose3d(inChannels: filters[below], outChannels: filters[below - 1], kernel: upsampleKernels[n - 2 - j],
                                   stride: upsampleKernels[n - 2 - j], bias: transBias)
        }
        decoder = (0..<(n - 1)).map { j in
            let level = n - 2 - j
            return Block(2 * filters[level], filters[level], kernel: kernels[level + 1], stride: [1, 1, 1], norm: norm, activation: activation, residual: false)
        }
        output = Self.conv(filters[0], outChannels, kernel: [1, 1, 1], stride: [1, 1, 1], bias: true)
    }

    /// The state-dict name prefix of encoder level `i`.
    func encoderPrefix(_ i: Int) -> String {
        i == 0 ? "input_block." : i == encoder.count - 1 ? "bottleneck." : "downsamples.\(i - 1)."
    }

    public func isAlias(_ name: String) -> Bool {
        name.hasPrefix("skip_layers.") || name.hasPrefix("deep_supervision_heads.")
    }

    public var parameterNames: [String] {
        var names: [String] = []
        for i in encoder.indices { names += encoder[i].names(encoderPrefix(i)) }
        for j in decoder.indices {
            names += transpconvs[j].parameterNames(under: "upsamples.\(j).transp_conv.conv.")
            names += decoder[j].names("upsamples.\(j).conv_block.")
        }
        return names + output.parameterNames(under: "output_block.conv.conv.")
    }

    /// Loads a MONAI DynUNet state_dict exported to safetensors; every tensor's shape is checked.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    public mutating func load(from w: Safetensors) throws {
        for i in encoder.indices { try encoder[i].load(w, encoderPrefix(i)) }
        for j in decoder.indices {
            try transpconvs[j].load(from: w, prefix: "upsamples.\(j).transp_conv.conv.")
            try decoder[j].load(w, "upsamples.\(j).conv_block.")
        }
        try output.load(from: w, prefix: "output_block.conv.conv.")
    }

    /// Runs the network.
    /// - Throws: `NNError.invalidInput` for a wrong channel count or a size the strides do not divide.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "DynUNet")
        var skips: [Tensor] = []
        var h = x
        for block in encoder {
            h = try block.forward(h)
            skips.append(h)
        }
        skips.removeLast()
        for j in decoder.indices {
            let up = try transpconvs[j].forward(h)
            guard let skip = skips.popLast() else { break }
            guard up.shape[2...] == skip.shape[2...] else {
                throw NNError.invalidInput("DynUNet: upsampled \(Array(up.shape[2...])) does not match the skip \(Array(skip.shape[2...]))")
            }
            h = try decoder[j].forward(concatenating: [up, skip])
        }
        return try output.forward(h)
    }
}

extension MonaiDynUNet {
    /// A DynUNet from its description: `{"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, [1, 3, 3], …],
    /// "strides": [1, 2, …], "upsampleKernelSize": [2, …]}` — each entry one number (isotropic) or three (D, H, W in
    /// the network's tensor order) — with the optional `filters` (default `min(2^(5+i), 320)`), `norm`
    /// ("instance-affine", MONAI's default; "instance", "batch", "group" with `numGroups`), `act` ("leakyrelu"
    /// with `negativeSlope` 0.01, "relu", "prelu"), `resBlock` (false), `transBias` (false), and `dropout`,
    /// `deepSupervision`, `deepSuprNum` (accepted; the identity and unused at inference).
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        func levels(_ key: String) throws -> [[Int]] {
            guard case .array(let items)? = c.json[key] else {
                throw NNError.invalidInput("monai-dynunet configuration: \"\(key)\" must be given (an array with one entry per level)")
            }
            return try items.map { item in
                if let d = item.doubleValue, d == d.rounded(), d >= 1, d < 1e4 { return [Int(d), Int(d), Int(d)] }
                guard case .array(let v) = item, v.count == 3,
                      let values = Optional(v.compactMap { $0.doubleValue }), values.count == 3, values.allSatisfy({ $0 == $0.rounded() && $0 >= 1 && $0 < 1e4 }) else {
                    throw NNError.invalidInput("monai-dynunet configuration: every \"\(key)\" entry must be a positive whole number or three of them")
                }
                return values.map { Int($0) }
            }
        }
        let norm: MonaiNormKind
        switch try c.string("norm", "instance-affine") {
        case "instance-affine": norm = .instance(affine: true)
        case "instance": norm = .instance(affine: false)
        case "batch": norm = .batch
        case "group": norm = .group(try c.int("numGroups", 8, minimum: 1))
        case let other: throw NNError.invalidInput("monai-dynunet configuration: \"norm\" \"\(other)\" is not one of instance-affine, instance, batch, group")
        }
        let activation: Activation
        switch try c.string("act", "leakyrelu") {
        case "leakyrelu": activation = .leakyReLU(Float(try c.double("negativeSlope", 0.01)))
        case "relu": activation = .leakyReLU(0)
        case "prelu": activation = .prelu
        case let other: throw NNError.invalidInput("monai-dynunet configuration: \"act\" \"\(other)\" is not one of leakyrelu, relu, prelu")
        }
        let dropout = try c.double("dropout", 0)
        _ = try c.bool("deepSupervision", false)
        _ = try c.int("deepSuprNum", 1, minimum: 1)
        let filters: [Int]? = c.json["filters"] == nil || c.json["filters"] == .null ? nil : try c.ints("filters")
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), kernels: levels("kernelSize"),
                      strides: levels("strides"), upsampleKernels: levels("upsampleKernelSize"), filters: filters, norm: norm,
                      activation: activation, residual: c.bool("resBlock", false), transBias: c.bool("transBias", false))
        self.dropout = dropout
    }
}
