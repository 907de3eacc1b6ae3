import VoxelSupport

/// MONAI's `monai.networks.nets.DenseNet` (3D classifier; `DenseNet121`, `169`, `201` and `264` are its
/// presets), with its parameter names so MONAI checkpoints load directly: a 7×7×7 stride-2 stem convolution,
/// norm, ReLU and 3×3×3 stride-2 max pooling; dense blocks whose layers (norm → ReLU → 1×1×1 convolution to
/// `bnSize × growthRate` channels → norm → ReLU → 3×3×3 convolution to `growthRate` channels) each append
/// their output to their input; transitions (norm → ReLU → 1×1×1 convolution halving the channels → 2×2×2
/// average pooling) between blocks; a final norm, ReLU, global average pooling and a linear layer.
/// Convolutions have no bias; batch norm in evaluation mode. Dropout is the identity (inference).
///
/// State-dict names: `features.conv0.weight`, `features.norm0.…`, `features.denseblock{b}.denselayer{l}.layers.norm1.…`,
/// `….layers.conv1.weight`, `….layers.norm2.…`, `….layers.conv2.weight`, `features.transition{b}.norm.…`,
/// `features.transition{b}.conv.weight`, `features.norm5.…`, `class_layers.out.weight` / `.bias`.
///
/// Input `N × inChannels × D × H × W` (any size the stem and poolings leave non-empty); output `N × outChannels`
/// class logits.
public struct MonaiDenseNet: Network {
    /// One dense layer: the bottleneck and the 3×3×3 convolution.
    struct DenseLayer: Sendable {
        var norm1: MonaiNorm, conv1: Conv3d, norm2: MonaiNorm, conv2: Conv3d

        func names(_ p: String) -> [String] {
            norm1.parameterNames.map { p + "layers.norm1." + $0 } + conv1.parameterNames(under: p + "layers.conv1.")
                + norm2.parameterNames.map { p + "layers.norm2." + $0 } + conv2.parameterNames(under: p + "layers.conv2.")
        }

        mutating func load(_ w: Safetensors, _ p: String) throws {
            try norm1.load(from: w, prefix: p + "layers.norm1.")
            try conv1.load(from: w, prefix: p + "layers.conv1.")
            try norm2.load(from: w, prefix: p + "layers.norm2.")
            try conv2.load(from: w, prefix: p + "layers.conv2.")
        }

        /// The `growthRate` new channels.
        func forward(_ x: Tensor) throws -> Tensor {
            try conv2.forward(norm2.forward(conv1.forward(norm1.forward(x, slope: 0)), slope: 0))
        }
    }

    public let inChannels: Int
    public let outChannels: Int
    /// Layers in each dense block.
    public let blockConfig: [Int]
    public var sizeMultiple: Int { 1 }
    public var isClassifier: Bool { true }

    /// MONAI's `dropout_prob` (after each dense layer in training; the identity here).
    public internal(set) var dropout: Double = 0
    var conv0: Conv3d
    var norm0: MonaiNorm
    var blocks: [[DenseLayer]]
    var transitions: [(norm: MonaiNorm, conv: Conv3d)]
    var norm5: MonaiNorm
    var fc: Linear

    /// The presets MONAI names: `(initFeatures, growthRate, blockConfig)`.
    public static let presets: [String: (Int, Int, [Int])] = [
        "densenet121": (64, 32, [6, 12, 24, 16]), "densenet169": (64, 32, [6, 12, 32, 32]),
        "densenet201": (64, 32, [6, 12, 48, 32]), "densenet264": (64, 32, [6, 12, 64, 48]),
    ]

    /// The network with zero weights; call `load` before use.
    /// - Throws: `NNError.invalidInput` for an empty block list or non-positive sizes.
    public init(inChannels: Int, outChannels: Int, initFeatures: Int = 64, growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16],
                bnSize: Int = 4, norm: MonaiNormKind = .batch) throws {
        guard !blockConfig.isEmpty, blockConfig.allSatisfy({ $0 >= 1 }), initFeatures >= 1, growthRate >= 1, bnSize >= 1 else {
            throw NNError.invalidInput("DenseNet: blockConfig needs at least one block of at least one layer, and positive sizes")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockConfig = blockConfig
        conv0 = Conv3d(inChannels: inChannels, outChannels: initFeatures, kernel: [7, 7, 7], stride: [2, 2, 2], padding: [3, 3, 3], bias: false)
        norm0 = MonaiNorm(norm, channels: initFeatures)
        var channels = initFeatures
        blocks = []
        transitions = []
        for (b, layers) in blockConfig.enumerated() {
            var block: [DenseLayer] = []
            for _ in 0..<layers {
                let mid = bnSize * growthRate
                block.append(DenseLayer(norm1: MonaiNorm(norm, channels: channels),
                                        conv1: Conv3d(inChannels: channels, outChannels: mid, kernel: [1, 1, 1], bias: false),
                                        norm2: MonaiNorm(norm, channels: mid),
                                        conv2: Conv3d(inChannels: mid, outChannels: growthRate, kernel: [3, 3, 3], padding: [1, 1, 1], bias: false)))
                channels += growthRate
            }
            blocks.append(block)
            if b < blockConfig.count - 1 {
                transitions.append((MonaiNorm(norm, channels: channels), Conv3d(inChannels: channels, outChannels: channels / 2, kernel: [1, 1, 1], bias: false)))
                channels /= 2
            }
        }
        norm5 = MonaiNorm(norm, channels: channels)
        fc = Linear(inFeatures: channels, outFeatures: outChannels)
    }

    public var parameterNames: [String] {
        var names = conv0.parameterNames(under: "features.conv0.") + norm0.parameterNames.map { "features.norm0." + $0 }
        for (b, block) in blocks.enumerated() {
            for (l, layer) in block.enumerated() { names += layer.names("features.denseblock\(b + 1).denselayer\(l + 1).") }
            if transitions.indices.contains(b) {
                names += transitions[b].norm.parameterNames.map { "features.transition\(b + 1).norm." + $0 }
                names += transitions[b].conv.parameterNames(under: "features.transition\(b + 1).conv.")
            }
        }
        return names + norm5.parameterNames.map { "features.norm5." + $0 } + fc.parameterNames(under: "class_layers.out.")
    }

    /// Loads a MONAI DenseNet state_dict exported to safetensors; every tensor's shape is checked.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    public mutating func load(from w: Safetensors) throws {
        try conv0.load(from: w, prefix: "features.conv0.")
        try norm0.load(from: w, prefix: "features.norm0.")
        for b in blocks.indices {
            for l in blocks[b].indices { try blocks[b][l].load(w, "features.denseblock\(b + 1).denselayer\(l + 1).") }
            if transitions.indices.contains(b) {
                try transitions[b].norm.load(from: w, prefix: "features.transition\(b + 1).norm.")
                try transitions[b].conv.load(from: w, prefix: "features.transition\(b + 1).conv.")
            }
        }
        try norm5.load(from: w, prefix: "features.norm5.")
        try fc.load(from: w, prefix: "class_layers.out.")
    }

    /// Runs the network.
    /// - Throws: `NNError.invalidInput` for a wrong channel count or an input the poolings shrink to nothing.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "DenseNet")
        var h = try norm0.forward(conv0.forward(x), slope: 0)
        h = try MaxPool3d(kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]).forward(h)
        for b in blocks.indices {
            for layer in blocks[b] {
                h = try TensorOps.concatChannels([h, layer.forward(h)])
            }
            if transitions.indices.contains(b) {
                guard h.shape[2...].allSatisfy({ $0 >= 2 }) else {
                    throw NNError.invalidInput("DenseNet: input \(Array(x.shape[2...])) is too small (a transition's pooling would leave nothing)")
                }
                h = try transitions[b].conv.forward(transitions[b].norm.forward(h, slope: 0))
                h = try AvgPool3d(kernel: [2, 2, 2], stride: [2, 2, 2]).forward(h)
            }
        }
        h = try GlobalAvgPool().forward(norm5.forward(h, slope: 0))
        return try fc.forward(h.reshaped([h.shape[0], h.shape[1]]))
    }
}

extension MonaiDenseNet {
    /// A DenseNet from its description: `{"type": "monai-densenet", "in": 1, "out": 2}` with the optional `preset`
    /// ("densenet121" — the default —, "densenet169", "densenet201", "densenet264") or `initFeatures`,
    /// `growthRate`, `blockConfig` given directly (they override the preset), `bnSize` (4), `norm` ("batch", or
    /// "instance", "instance-affine", "group" with `numGroups`), `dropout` (the identity at inference).
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        let presetName = try c.string("preset", "densenet121")
        guard let preset = Self.presets[presetName] else {
            throw NNError.invalidInput("monai-densenet configuration: \"preset\" \"\(presetName)\" is not one of \(Self.presets.keys.sorted().joined(separator: ", "))")
        }
        let norm: MonaiNormKind
        switch try c.string("norm", "batch") {
        case "batch": norm = .batch
        case "instance": norm = .instance(affine: false)
        case "instance-affine": norm = .instance(affine: true)
        case "group": norm = .group(try c.int("numGroups", 8, minimum: 1))
        case let other: throw NNError.invalidInput("monai-densenet configuration: \"norm\" \"\(other)\" is not one of batch, instance, instance-affine, group")
        }
        let dropout = try c.double("dropout", 0)
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), initFeatures: c.int("initFeatures", preset.0, minimum: 1),
                      growthRate: c.int("growthRate", preset.1, minimum: 1), blockConfig: c.ints("blockConfig", preset.2),
                      bnSize: c.int("bnSize", 4, minimum: 1), norm: norm)
        self.dropout = dropout
    }
}
