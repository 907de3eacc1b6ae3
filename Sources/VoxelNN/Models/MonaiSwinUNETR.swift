import VoxelCore
import VoxelSupport

/// The Swin transformer encoder of MONAI's `SwinUNETR` (`swinViT`, 3D, window attention): a patch embedding (a
/// 2×2×2 convolution with stride 2, optionally followed by a LayerNorm), then four stages of Swin blocks (regular
/// and shifted windows alternating) each ending in a patch merging that halves the grid and doubles the channels.
/// With `useV2`, a residual convolution block (`UnetrBasicBlock`, instance norm) precedes each stage. It returns
/// five feature maps: the embedding and each stage's output, each normalised over its channels (a LayerNorm without
/// parameters) when `normalize` is set.
struct SwinEncoder: Sendable {
    struct Stage: Sendable {
        var blocks: [SwinBlock]
        var merge: SwinPatchMerging
        var conv: MonaiDynUNet.Block?
    }

    var patchEmbed: Conv3d
    var patchNorm: TokenLayerNorm?
    var stages: [Stage]
    let normalize: Bool

    init(inChannels: Int, featureSize: Int, depths: [Int], heads: [Int], window: [Int], mlpRatio: Double, qkvBias: Bool,
         patchNorm: Bool, mergingV2: Bool, useV2: Bool, normalize: Bool) {
        patchEmbed = Conv3d(inChannels: inChannels, outChannels: featureSize, kernel: [2, 2, 2], stride: [2, 2, 2])
        self.patchNorm = patchNorm ? TokenLayerNorm(channels: featureSize) : nil
        stages = depths.indices.map { i in
            let c = featureSize << i
            return Stage(blocks: (0..<depths[i]).map { j in
                            SwinBlock(channels: c, heads: heads[i], window: window, shifted: j % 2 == 1, mlpRatio: mlpRatio, qkvBias: qkvBias)
                         },
                         merge: SwinPatchMerging(channels: c, version2: mergingV2),
                         conv: useV2 ? MonaiDynUNet.Block(c, c, kernel: [3, 3, 3], stride: [1, 1, 1], norm: .instance(affine: false),
                                                          activation: .leakyReLU(0.01), residual: true) : nil)
        }
        self.normalize = normalize
    }

    func parameterNames(_ p: String) -> [String] {
        var names = patchEmbed.parameterNames(under: p + "patch_embed.proj.") + (patchNorm?.parameterNames.map { p + "patch_embed.norm." + $0 } ?? [])
        for (i, stage) in stages.enumerated() {
            names += stage.conv?.names(p + "layers\(i + 1)c.0.layer.") ?? []
            for (j, b) in stage.blocks.enumerated() { names += b.parameterNames(p + "layers\(i + 1).0.blocks.\(j).") }
            names += stage.merge.parameterNames(p + "layers\(i + 1).0.downsample.")
        }
        return names
    }

    mutating func load(from w: Safetensors, prefix p: String) throws {
        try patchEmbed.load(from: w, prefix: p + "patch_embed.proj.")
        try patchNorm?.load(from: w, prefix: p + "patch_embed.norm.")
        for i in stages.indices {
            try stages[i].conv?.load(w, p + "layers\(i + 1)c.0.layer.")
            for j in stages[i].blocks.indices { try stages[i].blocks[j].load(from: w, prefix: p + "layers\(i + 1).0.blocks.\(j).") }
            try stages[i].merge.load(from: w, prefix: p + "layers\(i + 1).0.downsample.")
        }
    }

    /// The five feature maps (`N × C·2^i × D/2^(i+1) × …`).
    func forward(_ x: Tensor) throws -> [Tensor] {
        let samples = x.shape[0]
        var h = try patchEmbed.forward(x)
        if let patchNorm {
            h = TokenGrid.tensor((0..<samples).map { patchNorm.forward(TokenGrid(h, sample: $0)) })
        }
        var outputs = [output(h)]
        for stage in stages {
            if let conv = stage.conv { h = try conv.forward(h) }
            let grids = (0..<samples).map { b -> TokenGrid in
                var g = TokenGrid(h, sample: b)
                for block in stage.blocks { g = block.forward(g) }
                return stage.merge.forward(g)
            }
            h = TokenGrid.tensor(grids)
            outputs.append(output(h))
        }
        return outputs
    }

    /// MONAI's `proj_out`: each voxel's features normalised (no affine) when `normalize` is set.
    private func output(_ h: Tensor) -> Tensor {
        guard normalize else { return h }
        let norm = TokenLayerNorm(channels: h.shape[1], affine: false)
        return TokenGrid.tensor((0..<h.shape[0]).map { norm.forward(TokenGrid(h, sample: $0)) })
    }
}

/// MONAI's `monai.networks.nets.SwinUNETR` (3D), the network of MONAI's BTCV multi-organ bundle, with its parameter
/// names so MONAI checkpoints load directly.
///
/// A Swin transformer encoder (`swinViT`: see `SwinEncoder`) gives features at 1/2 … 1/32 of the input size; residual
/// convolution blocks (`UnetrBasicBlock`: conv → norm → LeakyReLU(0.01) → conv → norm, plus the input through a
/// 1×1×1 convolution and norm where the channels change, then LeakyReLU) process the input itself and the first
/// four of them; the decoder (`UnetrUpBlock`) goes up with bias-free 2×2×2 transposed convolutions, concatenates
/// each level's features (transposed output first) and applies a residual block; a 1×1×1 convolution with bias gives
/// the logits. Dropout, attention dropout and stochastic depth are the identity (inference).
///
/// State-dict names: `swinViT.patch_embed.proj.weight`, `swinViT.layers{1…4}.0.blocks.{j}.{norm1, attn.qkv,
/// attn.proj, attn.relative_position_bias_table, norm2, mlp.linear1, mlp.linear2}.…`,
/// `swinViT.layers{1…4}.0.downsample.{norm, reduction}.…`, `swinViT.layers{1…4}c.0.layer.…` (v2),
/// `encoder{1,2,3,4,10}.layer.conv1.conv.weight` …, `decoder{5…1}.transp_conv.conv.weight`,
/// `decoder{5…1}.conv_block.…`, `out.conv.conv.weight`/`.bias`. The `relative_position_index` buffers checkpoints
/// carry are computed, not read (`isAlias`).
///
/// Input `N × inChannels × D × H × W`, every spatial size a multiple of 32; output `N × outChannels × D × H × W`.
public struct MonaiSwinUNETR: Network {
    public let inChannels: Int, outChannels: Int
    /// Channels after the patch embedding (MONAI's `feature_size`, a multiple of 12).
    public let featureSize: Int
    /// Swin blocks per stage, attention heads per stage, and the window (D, H, W).
    public let depths: [Int], heads: [Int], window: [Int]
    var encoder: SwinEncoder
    var encoders: [MonaiDynUNet.Block]
    var bottleneck: MonaiDynUNet.Block
    var upsamples: [ConvTranspose3d]
    var decoders: [MonaiDynUNet.Block]
    var output: Conv3d

    /// The network with zero weights; call `load` before use.
    /// - Throws: `NNError.invalidInput` for a feature size that is not a positive multiple of 12, other than four
    ///   stages, a head count that does not divide its stage's channels, a group count that does not divide the
    ///   feature size, or a window or depth below 1.
    public init(inChannels: Int, outChannels: Int, featureSize: Int = 24, depths: [Int] = [2, 2, 2, 2], heads: [Int] = [3, 6, 12, 24],
                window: [Int] = [7, 7, 7], mlpRatio: Double = 4, qkvBias: Bool = true, norm: MonaiNormKind = .instance(affine: false),
                normalize: Bool = true, patchNorm: Bool = false, mergingV2: Bool = false, useV2: Bool = false) throws {
        guard featureSize > 0, featureSize % 12 == 0 else { throw NNError.invalidInput("SwinUNETR: featureSize \(featureSize) must be a positive multiple of 12") }
        guard depths.count == 4, heads.count == 4, depths.allSatisfy({ $0 >= 1 }) else {
            throw NNError.invalidInput("SwinUNETR: depths and numHeads need 4 entries (one per stage), depths at least 1")
        }
        guard window.count == 3, window.allSatisfy({ $0 >= 1 }) else { throw NNError.invalidInput("SwinUNETR: windowSize needs 3 sizes ≥ 1") }
        for i in 0..<4 where heads[i] < 1 || (featureSize << i) % heads[i] != 0 {
            throw NNError.invalidInput("SwinUNETR: \(heads[i]) heads do not divide the \(featureSize << i) channels of stage \(i + 1)")
        }
        if case .group(let g) = norm, featureSize % g != 0 { throw NNError.invalidInput("SwinUNETR: \(g) groups do not divide featureSize \(featureSize)") }
        guard mlpRatio > 0, Int(Double(featureSize) * mlpRatio) >= 1 else { throw NNError.invalidInput("SwinUNETR: mlpRatio must be positive") }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.featureSize = featureSize
        self.depths = depths
        self.heads = heads
        self.window = window
        encoder = SwinEncoder(inChannels: inChannels, featureSize: featureSize, depths: depths, heads: heads, window: window, mlpRatio: mlpRatio,
                              qkvBias: qkvBias, patchNorm: patchNorm, mergingV2: mergingV2, useV2: useV2, normalize: normalize)
        func block(_ i: Int, _ o: Int) -> MonaiDynUNet.Block {
            MonaiDynUNet.Block(i, o, kernel: [3, 3, 3], stride: [1, 1, 1], norm: norm, activation: .leakyReLU(0.01), residual: true)
        }
        let f = featureSize
        encoders = [block(inChannels, f), block(f, f), block(2 * f, 2 * f), block(4 * f, 4 * f)]
        bottleneck = block(16 * f, 16 * f)
        // decoder5 … decoder1: 16f → 8f, 8f → 4f, 4f → 2f, 2f → f, f → f.
        let levels = [(16 * f, 8 * f), (8 * f, 4 * f), (4 * f, 2 * f), (2 * f, f), (f, f)]
        upsamples = levels.map { ConvTranspose3d(inChannels: $0.0, outChannels: $0.1, kernel: [2, 2, 2], stride: [2, 2, 2], bias: false) }
        decoders = levels.map { block(2 * $0.1, $0.1) }
        output = Conv3d(inChannels: f, outChannels: outChannels, kernel: [1, 1, 1])
    }

    public var sizeMultiple: Int { 32 }
    public var isClassifier: Bool { false }

    /// The position tables MONAI registers as buffers; this engine computes them.
    public func isAlias(_ name: String) -> Bool { name.hasSuffix(".relative_position_index") }

    static let encoderNames = ["encoder1", "encoder2", "encoder3", "encoder4"]
    static let decoderNames = ["decoder5", "decoder4", "decoder3", "decoder2", "decoder1"]

    public var parameterNames: [String] {
        var names = encoder.parameterNames("swinViT.")
        for (e, name) in zip(encoders, Self.encoderNames) { names += e.names(name + ".layer.") }
        names += bottleneck.names("encoder10.layer.")
        for i in decoders.indices {
            names += upsamples[i].parameterNames(under: Self.decoderNames[i] + ".transp_conv.conv.")
            names += decoders[i].names(Self.decoderNames[i] + ".conv_block.")
        }
        return names + output.parameterNames(under: "out.conv.conv.")
    }

    /// Loads a MONAI SwinUNETR state_dict (safetensors or a converted checkpoint); every tensor's shape is checked.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    public mutating func load(from w: Safetensors) throws {
        try encoder.load(from: w, prefix: "swinViT.")
        for i in encoders.indices { try encoders[i].load(w, Self.encoderNames[i] + ".layer.") }
        try bottleneck.load(w, "encoder10.layer.")
        for i in decoders.indices {
            try upsamples[i].load(from: w, prefix: Self.decoderNames[i] + ".transp_conv.conv.")
            try decoders[i].load(w, Self.decoderNames[i] + ".conv_block.")
        }
        try output.load(from: w, prefix: "out.conv.conv.")
    }

    /// Runs the network.
    /// - Throws: `NNError.invalidInput` for a wrong channel count or a spatial size that is not a multiple of 32.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "SwinUNETR")
        let hidden = try encoder.forward(x)
        // Skips from the top: the input's block, then the blocks on the first three feature maps, then map 3 itself.
        var skips = [try encoders[0].forward(x)]
        for i in 1..<4 { skips.append(try encoders[i].forward(hidden[i - 1])) }
        skips.append(hidden[3])
        var h = try bottleneck.forward(hidden[4])
        for i in decoders.indices {
            h = try decoders[i].forward(concatenating: [upsamples[i].forward(h), skips[skips.count - 1 - i]])
        }
        return try output.forward(h)
    }
}

extension MonaiSwinUNETR {
    /// A SwinUNETR from its description: `{"type": "monai-swinunetr", "in": 1, "out": 14}` with MONAI's defaults for
    /// `featureSize` 24, `depths` [2, 2, 2, 2], `numHeads` [3, 6, 12, 24], `windowSize` 7 (or [D, H, W]),
    /// `mlpRatio` 4, `qkvBias` true, `norm` "instance" ("instance-affine", "batch", "group" with `numGroups`),
    /// `normalize` true, `patchNorm` false, `downsample` "merging" ("mergingv2"), `useV2` false. `dropRate`,
    /// `attnDropRate` and `dropoutPathRate` (0 … 1) are the identity at inference.
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        let norm: MonaiNormKind
        switch try c.string("norm", "instance") {
        case "instance": norm = .instance(affine: false)
        case "instance-affine": norm = .instance(affine: true)
        case "batch": norm = .batch
        case "group": norm = .group(try c.int("numGroups", 8, minimum: 1))
        case let other: throw NNError.invalidInput("monai-swinunetr configuration: \"norm\" \"\(other)\" is not one of instance, instance-affine, batch, group")
        }
        let window: [Int]
        if case .array? = c.json["windowSize"] { window = try c.ints("windowSize") } else { window = Array(repeating: try c.int("windowSize", 7, minimum: 1), count: 3) }
        let merging = try c.string("downsample", "merging")
        guard merging == "merging" || merging == "mergingv2" else {
            throw NNError.invalidInput("monai-swinunetr configuration: \"downsample\" must be merging or mergingv2")
        }
        for key in ["dropRate", "attnDropRate", "dropoutPathRate"] {
            let rate = try c.double(key, 0)
            guard (0...1).contains(rate) else { throw NNError.invalidInput("monai-swinunetr configuration: \"\(key)\" must be between 0 and 1") }
        }
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), featureSize: c.int("featureSize", 24, minimum: 1),
                      depths: c.ints("depths", [2, 2, 2, 2]), heads: c.ints("numHeads", [3, 6, 12, 24]), window: window,
                      mlpRatio: c.double("mlpRatio", 4), qkvBias: c.bool("qkvBias", true), norm: norm, normalize: c.bool("normalize", true),
                      patchNorm: c.bool("patchNorm", false), mergingV2: merging == "mergingv2", useV2: c.bool("useV2", false))
    }
}
