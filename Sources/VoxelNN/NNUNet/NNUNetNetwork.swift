import VoxelSupport

/// The U-Nets nnU-Net v2 trains, built from a plan's `architecture` (`network_class_name` + `arch_kwargs`)
/// as dynamic-network-architectures builds them: `PlainConvUNet` (stacked conv–norm–nonlin blocks) and
/// `ResidualEncoderUNet` (a stem and BasicBlockD residual stages; nnU-Net's ResEnc M/L/XL presets), with any
/// number of stages, per-stage kernel sizes and strides (anisotropic included), convolution bias on or off,
/// instance norm with or without affine, LeakyReLU or ReLU, transposed-convolution upsampling and the last
/// segmentation head only (deep supervision is a training device).
///
/// 2-D configurations (`Conv2d`) run as 3-D networks whose depth kernel and stride are 1, on `N × C × 1 × H × W`
/// tensors; their weights gain a depth axis of 1 when loaded (`TorchCheckpoint.weights(reshape:)`).
///
/// State-dict names are PyTorch's: `encoder.stages.{s}.0.convs.{i}.conv.weight`, `….norm.weight`,
/// `encoder.stem.convs.0.…`, `encoder.stages.{s}.blocks.{b}.conv1.…` / `conv2.…` / `skip.{1|0}.…`,
/// `decoder.transpconvs.{s}.weight`, `decoder.stages.{s}.convs.{i}.…`, `decoder.seg_layers.{last}.weight`.
/// The aliases PyTorch also saves (`….all_modules.…`, `decoder.encoder.…`) and the deep-supervision heads are
/// not parameters here: drop them with `NNUNetNetwork.isAlias` before loading.
public struct NNUNetNetwork: Network {
    /// Conv → instance norm → nonlinearity (either may be absent), dynamic-network-architectures'
    /// `ConvDropoutNormReLU` (dropout is the identity at inference).
    struct ConvNormAct: Sendable {
        var conv: Conv3d
        var norm: InstanceNorm3d?
        var slope: Float?

        func names(_ prefix: String) -> [String] {
            conv.parameterNames(under: prefix + "conv.") + (norm?.parameterNames(under: prefix + "norm.") ?? [])
        }

        mutating func load(_ w: Safetensors, _ prefix: String) throws {
            try conv.load(from: w, prefix: prefix + "conv.")
            try norm?.load(from: w, prefix: prefix + "norm.")
        }

        func forward(_ x: Tensor) throws -> Tensor { try finish(conv.forward(x)) }

        func forward(concatenating parts: [Tensor]) throws -> Tensor { try finish(conv.forward(concatenating: parts)) }

        private func finish(_ y: Tensor) throws -> Tensor {
            var y = y
            if let norm {
                try norm.apply(&y, negativeSlope: slope)
            } else if let slope {
                for i in y.data.indices where y.data[i] < 0 { y.data[i] *= slope }
            }
            return y
        }
    }

    /// `BasicBlockD`: conv1 (with the stride, norm, nonlin), conv2 (norm, no nonlin), plus a skip path that
    /// average-pools by the stride and projects with a bias-free 1×1 conv + norm when the shape changes; the
    /// nonlinearity follows the sum.
    struct ResidualBlock: Sendable {
        var conv1: ConvNormAct
        var conv2: ConvNormAct
        var pool: AvgPool3d?
        var projection: ConvNormAct?
        var slope: Float?

        func names(_ prefix: String) -> [String] {
            conv1.names(prefix + "conv1.") + conv2.names(prefix + "conv2.")
                + (projection?.names(prefix + "skip.\(pool == nil ? 0 : 1).") ?? [])
        }

        mutating func load(_ w: Safetensors, _ prefix: String) throws {
            try conv1.load(w, prefix + "conv1.")
            try conv2.load(w, prefix + "conv2.")
            try projection?.load(w, prefix + "skip.\(pool == nil ? 0 : 1).")
        }

        func forward(_ x: Tensor) throws -> Tensor {
            var residual = x
            if let pool { residual = try pool.forward(residual) }
            if let projection { residual = try projection.forward(residual) }
            var y = try conv2.forward(conv1.forward(x))
            guard y.shape == residual.shape else { throw NNError.invalidInput("residual block: shapes \(y.shape) and \(residual.shape) differ") }
            let s = slope
            y.data.withUnsafeMutableBufferPointer { out in
                residual.data.withUnsafeBufferPointer { r in
                    for i in out.indices {
                        let v = out[i] + r[i]
                        out[i] = (s != nil && v < 0) ? v * (s ?? 0) : v
                    }
                }
            }
            return y
        }
    }

    enum EncoderUnit: Sendable {
        case conv(ConvNormAct)
        case residual(ResidualBlock)
    }

    public let inChannels: Int
    public let outChannels: Int
    /// The class name from the plan (`…PlainConvUNet` or `…ResidualEncoderUNet`).
    public let className: String
    /// True for a 2-D configuration.
    public let is2D: Bool
    /// The product of the encoder strides along (D, H, W): spatial input sizes must be multiples of it.
    public let divisor: [Int]
    public var sizeMultiple: Int { 1 }
    public var isClassifier: Bool { false }

    var stem: [ConvNormAct] = []
    var encoder: [[EncoderUnit]] = []
    var transpconvs: [ConvTranspose3d] = []
    var decoder: [[ConvNormAct]] = []
    var segLayer: Conv3d

    /// The network classes this builder knows.
    public static let classNames = ["PlainConvUNet", "ResidualEncoderUNet"]

    /// Builds the network (zero weights) from `architecture` (`{"network_class_name": …, "arch_kwargs": {…}}`).
    /// - Throws: `NNError.invalidInput` naming an unknown class, operator or a malformed keyword.
    public init(architecture: JSON, inChannels: Int, outChannels: Int) throws {
        guard let fullName = architecture["network_class_name"]?.stringValue else {
            throw NNError.invalidInput("nnU-Net plan: architecture has no network_class_name")
        }
        let name = String(fullName.split(separator: ".").last ?? "")
        guard Self.classNames.contains(name) else {
            throw NNError.invalidInput("nnU-Net plan: network class \(fullName) is not supported (supported: \(Self.classNames.joined(separator: ", ")))")
        }
        guard let kw = architecture["arch_kwargs"], case .object = kw else { throw NNError.invalidInput("nnU-Net plan: architecture has no arch_kwargs") }
        func fail(_ key: String, _ what: String) -> NNError { .invalidInput("nnU-Net plan: arch_kwargs.\(key) \(what)") }
        func int(_ key: String) throws -> Int {
            guard let d = kw[key]?.doubleValue, d == d.rounded(), d >= 1, d < 1e6 else { throw fail(key, "must be a positive whole number") }
            return Int(d)
        }
        func ints(_ j: JSON?, _ key: String) throws -> [Int] {
            guard case .array(let items)? = j else { throw fail(key, "must be an array of whole numbers") }
            return try items.map { item in
                guard let d = item.doubleValue, d == d.rounded(), d >= 1, d < 1e6 else { throw fail(key, "must hold positive whole numbers") }
                return Int(d)
            }
        }
        func perStage(_ key: String, _ n: Int) throws -> [Int] {
            if let d = kw[key]?.doubleValue { return Array(repeating: Int(d), count: n) }
            let v = try ints(kw[key], key)
            guard v.count == n else { throw fail(key, "must have \(n) entries") }
            return v
        }
        func lists(_ key: String, _ n: Int, dims: Int) throws -> [[Int]] {
            guard case .array(let items)? = kw[key], items.count == n else { throw fail(key, "must be \(n) lists") }
            return try items.map { item in
                if let d = item.doubleValue { return Array(repeating: Int(d), count: dims) }
                let v = try ints(item, key)
                guard v.count == dims else { throw fail(key, "entries must have \(dims) values") }
                return v
            }
        }
        let convOp = kw["conv_op"]?.stringValue ?? ""
        let dims: Int
        switch convOp.split(separator: ".").last {
        case "Conv3d": dims = 3
        case "Conv2d": dims = 2
        default: throw fail("conv_op", "\(convOp) is not supported (Conv3d or Conv2d)")
        }
        let nStages = try int("n_stages")
        let features = try perStage("features_per_stage", nStages)
        let kernels = try lists("kernel_sizes", nStages, dims: dims)
        let strides = try lists("strides", nStages, dims: dims)
        let convBias: Bool
        switch kw["conv_bias"] { case .bool(let b)?: convBias = b; case nil, .null?: convBias = false; default: throw fail("conv_bias", "must be true or false") }
        // Normalisation and nonlinearity.
        var eps: Float = 1e-5, affine = false, hasNorm = false
        if let normOp = kw["norm_op"]?.stringValue {
            guard normOp.hasSuffix("InstanceNorm3d") || normOp.hasSuffix("InstanceNorm2d") else {
                throw fail("norm_op", "\(normOp) is not supported (instance norm)")
            }
            hasNorm = true
            if let e = kw["norm_op_kwargs"]?["eps"]?.doubleValue { eps = Float(e) }
            if case .bool(let a)? = kw["norm_op_kwargs"]?["affine"] { affine = a }
        }
        var slope: Float?
        if let nonlin = kw["nonlin"]?.stringValue {
            if nonlin.hasSuffix("LeakyReLU") {
                slope = Float(kw["nonlin_kwargs"]?["negative_slope"]?.doubleValue ?? 0.01)
            } else if nonlin.hasSuffix(".ReLU") || nonlin == "ReLU" {
                slope = 0
            } else {
                throw fail("nonlin", "\(nonlin) is not supported (LeakyReLU or ReLU)")
            }
        }
        if let dropout = kw["dropout_op"]?.stringValue, !dropout.contains("Dropout") { throw fail("dropout_op", "\(dropout) is not supported") }
        let to3 = { (v: [Int], fill: Int) -> [Int] in dims == 3 ? v : [fill] + v }

        func cna(_ cin: Int, _ cout: Int, _ kernel: [Int], _ stride: [Int], bias: Bool, act: Bool) -> ConvNormAct {
            let k = to3(kernel, 1)
            var norm: InstanceNorm3d?
            if hasNorm { norm = InstanceNorm3d(channels: cout, affine: affine); norm?.eps = eps }
            return ConvNormAct(conv: Conv3d(inChannels: cin, outChannels: cout, kernel: k, stride: to3(stride, 1), padding: k.map { ($0 - 1) / 2 }, bias: bias),
                               norm: norm, slope: act ? slope : nil)
        }

        self.inChannels = inChannels
        self.outChannels = outChannels
        className = name
        is2D = dims == 2
        var divisor = [1, 1, 1]
        for s in strides { let s3 = to3(s, 1); for a in 0..<3 { divisor[a] *= s3[a] } }
        self.divisor = divisor

        var channels = inChannels
        if name == "PlainConvUNet" {
            let nConv = try perStage("n_conv_per_stage", nStages)
            for s in 0..<nStages {
                encoder.append((0..<nConv[s]).map { i in
                    .conv(cna(i == 0 ? channels : features[s], features[s], kernels[s], i == 0 ? strides[s] : Array(repeating: 1, count: dims), bias: convBias, act: true))
                })
                channels = features[s]
            }
        } else {
            let nBlocks = try perStage("n_blocks_per_stage", nStages)
            let stemChannels = kw["stem_channels"]?.doubleValue.map { Int($0) } ?? features[0]
            stem = [cna(channels, stemChannels, kernels[0], Array(repeating: 1, count: dims), bias: convBias, act: true)]
            channels = stemChannels
            for s in 0..<nStages {
                var blocks: [EncoderUnit] = []
                for b in 0..<nBlocks[s] {
                    let cin = b == 0 ? channels : features[s]
                    let stride = b == 0 ? strides[s] : Array(repeating: 1, count: dims)
                    let hasStride = stride.contains { $0 != 1 }
                    var block = ResidualBlock(conv1: cna(cin, features[s], kernels[s], stride, bias: convBias, act: true),
                                              conv2: cna(features[s], features[s], kernels[s], Array(repeating: 1, count: dims), bias: convBias, act: false),
                                              pool: nil, projection: nil, slope: slope)
                    if hasStride { block.pool = AvgPool3d(kernel: to3(stride, 1)) }
                    if cin != features[s] { block.projection = cna(cin, features[s], Array(repeating: 1, count: dims), Array(repeating: 1, count: dims), bias: false, act: false) }
                    blocks.append(.residual(block))
                }
                encoder.append(blocks)
                channels = features[s]
            }
        }
        let nDecoder = try perStage("n_conv_per_stage_decoder", nStages - 1)
        for s in 1..<nStages {
            let below = features[nStages - s], skip = features[nStages - s - 1]
            let stride = to3(strides[nStages - s], 1)
            transpconvs.append(ConvTranspose3d(inChannels: below, outChannels: skip, kernel: stride, stride: stride, bias: convBias))
            decoder.append((0..<nDecoder[s - 1]).map { i in
                cna(i == 0 ? 2 * skip : skip, skip, kernels[nStages - s - 1], Array(repeating: 1, count: dims), bias: convBias, act: true)
            })
        }
        segLayer = Conv3d(inChannels: features[0], outChannels: outChannels, kernel: [1, 1, 1], bias: true)
    }

    /// True for state-dict names that are aliases of other entries or training-only heads: PyTorch saves
    /// `….all_modules.…` and `decoder.encoder.…` a second time, and every deep-supervision head but the last.
    public func isAlias(_ name: String) -> Bool {
        if name.contains(".all_modules.") || name.hasPrefix("decoder.encoder.") { return true }
        if name.hasPrefix("decoder.seg_layers.") { return !name.hasPrefix("decoder.seg_layers.\(decoder.count - 1).") }
        return false
    }

    public var parameterNames: [String] {
        var names = stem.enumerated().flatMap { $0.element.names("encoder.stem.convs.\($0.offset).") }
        for (s, stage) in encoder.enumerated() {
            for (i, unit) in stage.enumerated() {
                switch unit {
                case .conv(let c): names += c.names("encoder.stages.\(s).0.convs.\(i).")
                case .residual(let b): names += b.names("encoder.stages.\(s).blocks.\(i).")
                }
            }
        }
        for s in decoder.indices {
            names += transpconvs[s].parameterNames(under: "decoder.transpconvs.\(s).")
            for (i, c) in decoder[s].enumerated() { names += c.names("decoder.stages.\(s).convs.\(i).") }
        }
        return names + segLayer.parameterNames(under: "decoder.seg_layers.\(decoder.count - 1).")
    }

    public mutating func load(from weights: Safetensors) throws {
        for i in stem.indices { try stem[i].load(weights, "encoder.stem.convs.\(i).") }
        for s in encoder.indices {
            for i in encoder[s].indices {
                switch encoder[s][i] {
                case .conv(var c):
                    try c.load(weights, "encoder.stages.\(s).0.convs.\(i).")
                    encoder[s][i] = .conv(c)
                case .residual(var b):
                    try b.load(weights, "encoder.stages.\(s).blocks.\(i).")
                    encoder[s][i] = .residual(b)
                }
            }
        }
        for s in decoder.indices {
            try transpconvs[s].load(from: weights, prefix: "decoder.transpconvs.\(s).")
            for i in decoder[s].indices { try decoder[s][i].load(weights, "decoder.stages.\(s).convs.\(i).") }
        }
        try segLayer.load(from: weights, prefix: "decoder.seg_layers.\(decoder.count - 1).")
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, className)
        for a in 0..<3 where x.shape[2 + a] % divisor[a] != 0 {
            throw NNError.invalidInput("\(className): spatial size \(Array(x.shape[2...])) must be a multiple of \(divisor) (the encoder's strides)")
        }
        var y = x
        for c in stem { y = try c.forward(y) }
        var skips: [Tensor] = []
        for stage in encoder {
            for unit in stage {
                switch unit {
                case .conv(let c): y = try c.forward(y)
                case .residual(let b): y = try b.forward(y)
                }
            }
            skips.append(y)
        }
        var low = skips.removeLast()
        for s in decoder.indices {
            let up = try transpconvs[s].forward(low)
            guard let skip = skips.popLast() else { break }
            var z = try decoder[s][0].forward(concatenating: [up, skip])
            for c in decoder[s].dropFirst() { z = try c.forward(z) }
            low = z
        }
        return try segLayer.forward(low)
    }
}
