import VoxelCore

/// MONAI's `monai.networks.nets.ResNet` (3D classifier) with its parameter names: a `conv1` stem (no bias),
/// batch norm, ReLU, 3×3×3 max pooling with stride 2, four stages of basic or bottleneck blocks (stride 2
/// from the second), global average pooling and a linear layer (`fc`). Shortcut type "B" (a 1×1×1
/// convolution and batch norm, `downsample.0` / `downsample.1`, when the shape changes).
///
/// Input `N × inChannels × D × H × W` (any size the stem and strides leave non-empty); output
/// `N × outChannels` class logits.
public struct MonaiResNet: Network {
    /// The block type of every stage.
    public enum Block: String, Sendable {
        /// Two 3×3×3 convolutions (expansion 1): ResNet-10/18/34.
        case basic
        /// 1×1×1, 3×3×3, 1×1×1 convolutions (expansion 4): ResNet-50 and deeper.
        case bottleneck

        var expansion: Int { self == .basic ? 1 : 4 }
    }

    /// One residual block: convolutions with batch norm, ReLU between them and after the sum.
    struct ResidualBlock: Sendable {
        var convs: [(Conv3d, BatchNorm3d)]
        var downsample: (Conv3d, BatchNorm3d)?

        init(block: Block, inPlanes: Int, planes: Int, stride: Int, downsample: Bool, biasDownsample: Bool) {
            let s = [stride, stride, stride]
            switch block {
            case .basic:
                convs = [
                    (Conv3d(inChannels: inPlanes, outChannels: planes, kernel: [3, 3, 3], stride: s, padding: [1, 1, 1], bias: false), BatchNorm3d(channels: planes)),
                    (Conv3d(inChannels: planes, outChannels: planes, kernel: [3, 3, 3], padding: [1, 1, 1], bias: false), BatchNorm3d(channels: planes)),
                ]
            case .bottleneck:
                convs = [
                    (Conv3d(inChannels: inPlanes, outChannels: planes, kernel: [1, 1, 1], bias: false), BatchNorm3d(channels: planes)),
                    (Conv3d(inChannels: planes, outChannels: planes, kernel: [3, 3, 3], stride: s, padding: [1, 1, 1], bias: false), BatchNorm3d(channels: planes)),
                    (Conv3d(inChannels: planes, outChannels: planes * 4, kernel: [1, 1, 1], bias: false), BatchNorm3d(channels: planes * 4)),
                ]
            }
            if downsample {
                let out = planes * block.expansion
                self.downsample = (Conv3d(inChannels: inPlanes, outChannels: out, kernel: [1, 1, 1], stride: s, bias: biasDownsample),
                                   BatchNorm3d(channels: out))
            }
        }

        func parameterNames(prefix: String) -> [String] {
            var names: [String] = []
            for (i, (conv, bn)) in convs.enumerated() {
                names += conv.parameterNames(under: prefix + "conv\(i + 1).") + bn.parameterNames(under: prefix + "bn\(i + 1).")
            }
            if let (conv, bn) = downsample {
                names += conv.parameterNames(under: prefix + "downsample.0.") + bn.parameterNames(under: prefix + "downsample.1.")
            }
            return names
        }

        mutating func load(from w: Safetensors, prefix: String) throws {
            for i in convs.indices {
                try convs[i].0.load(from: w, prefix: prefix + "conv\(i + 1).")
                try convs[i].1.load(from: w, prefix: prefix + "bn\(i + 1).")
            }
            if var (conv, bn) = downsample {
                try conv.load(from: w, prefix: prefix + "downsample.0.")
                try bn.load(from: w, prefix: prefix + "downsample.1.")
                downsample = (conv, bn)
            }
        }

        func forward(_ x: Tensor) throws -> Tensor {
            var y = x
            for (i, (conv, bn)) in convs.enumerated() {
                y = try bn.forward(conv.forward(y), negativeSlope: i < convs.count - 1 ? 0 : nil)
            }
            let residual = try downsample.map { try $0.1.forward($0.0.forward(x)) } ?? x
            y = try TensorOps.add(y, residual)
            return try ReLU().forward(y)
        }
    }

    public let inChannels: Int, outChannels: Int
    public let block: Block
    public let layers: [Int]
    public let noMaxPool: Bool
    var stem: (Conv3d, BatchNorm3d)
    var stages: [[ResidualBlock]]
    var fc: Linear

    /// The network with zero weights; call `load` before use.
    /// - Parameters:
    ///   - layers: blocks per stage (4 entries), e.g. [2, 2, 2, 2] for ResNet-18.
    ///   - blockInplanes: widths of the four stages before `widenFactor`.
    ///   - conv1Size, conv1Stride: the stem's kernel size and stride.
    /// - Throws: `NNError.invalidInput` unless `layers` and `blockInplanes` have four positive entries.
    public init(inChannels: Int, outChannels: Int, block: Block, layers: [Int], blockInplanes: [Int] = [64, 128, 256, 512],
                conv1Size: Int = 7, conv1Stride: Int = 1, noMaxPool: Bool = false, widenFactor: Double = 1, biasDownsample: Bool = true) throws {
        let planes = blockInplanes.map { Int(Double($0) * widenFactor) }
        guard layers.count == 4, planes.count == 4, layers.allSatisfy({ $0 > 0 }), planes.allSatisfy({ $0 > 0 }), conv1Size > 0, conv1Stride > 0 else {
            throw NNError.invalidInput("ResNet needs four positive layer counts and widths, got \(layers) and \(planes)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.block = block
        self.layers = layers
        self.noMaxPool = noMaxPool
        let k = [conv1Size, conv1Size, conv1Size]
        stem = (Conv3d(inChannels: inChannels, outChannels: planes[0], kernel: k, stride: [conv1Stride, conv1Stride, conv1Stride],
                       padding: k.map { $0 / 2 }, bias: false), BatchNorm3d(channels: planes[0]))
        var inPlanes = planes[0]
        stages = (0..<4).map { stage in
            let stride = stage == 0 ? 1 : 2
            return (0..<layers[stage]).map { i in
                let first = i == 0
                let b = ResidualBlock(block: block, inPlanes: inPlanes, planes: planes[stage], stride: first ? stride : 1,
                                      downsample: first && (stride != 1 || inPlanes != planes[stage] * block.expansion), biasDownsample: biasDownsample)
                inPlanes = planes[stage] * block.expansion
                return b
            }
        }
        fc = Linear(inFeatures: planes[3] * block.expansion, outFeatures: outChannels)
    }

    public var sizeMultiple: Int { 1 }
    public var isClassifier: Bool { true }

    public var parameterNames: [String] {
        var names = stem.0.parameterNames(under: "conv1.") + stem.1.parameterNames(under: "bn1.")
        for (s, stage) in stages.enumerated() {
            for (b, block) in stage.enumerated() { names += block.parameterNames(prefix: "layer\(s + 1).\(b).") }
        }
        return names + fc.parameterNames(under: "fc.")
    }

    public mutating func load(from weights: Safetensors) throws {
        try stem.0.load(from: weights, prefix: "conv1.")
        try stem.1.load(from: weights, prefix: "bn1.")
        for s in stages.indices { for b in stages[s].indices { try stages[s][b].load(from: weights, prefix: "layer\(s + 1).\(b).") } }
        try fc.load(from: weights, prefix: "fc.")
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "ResNet")
        var y = try stem.1.forward(stem.0.forward(x), negativeSlope: 0)
        if !noMaxPool { y = try MaxPool3d(kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]).forward(y) }
        for stage in stages { for b in stage { y = try b.forward(y) } }
        y = try GlobalAvgPool().forward(y)
        return try fc.forward(y.reshaped([y.shape[0], y.shape[1]]))
    }
}

extension MonaiResNet {
    /// Blocks and stage depths of MONAI's named ResNets (`resnet10` … `resnet200`).
    public static func standard(depth: Int) -> (Block, [Int])? {
        switch depth {
        case 10: return (.basic, [1, 1, 1, 1])
        case 18: return (.basic, [2, 2, 2, 2])
        case 34: return (.basic, [3, 4, 6, 3])
        case 50: return (.bottleneck, [3, 4, 6, 3])
        case 101: return (.bottleneck, [3, 4, 23, 3])
        case 152: return (.bottleneck, [3, 8, 36, 3])
        case 200: return (.bottleneck, [3, 24, 36, 3])
        default: return nil
        }
    }

    /// A ResNet from its description: `{"type": "monai-resnet", "in": 1, "out": 2, "depth": 18}` for MONAI's
    /// `resnet18`, or explicit `"block": "basic" | "bottleneck"` and `"layers": [2, 2, 2, 2]`. Optional, with
    /// MONAI's defaults: `blockInplanes` [64, 128, 256, 512], `conv1Size` 7, `conv1Stride` 1, `noMaxPool`
    /// false, `widenFactor` 1, `biasDownsample` true. Only shortcut type "B" exists here.
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        var block = Block.basic, layers: [Int]
        if c.json["depth"] != nil {
            guard let standard = Self.standard(depth: try c.int("depth")) else {
                throw NNError.invalidInput("monai-resnet configuration: \"depth\" must be 10, 18, 34, 50, 101, 152 or 200")
            }
            (block, layers) = standard
        } else {
            guard let b = Block(rawValue: try c.string("block", "basic")) else {
                throw NNError.invalidInput("monai-resnet configuration: \"block\" must be \"basic\" or \"bottleneck\"")
            }
            block = b
            layers = try c.ints("layers")
        }
        if try c.string("shortcutType", "B") != "B" {
            throw NNError.invalidInput("monai-resnet configuration: only \"shortcutType\": \"B\" is supported")
        }
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), block: block, layers: layers,
                      blockInplanes: c.ints("blockInplanes", [64, 128, 256, 512]), conv1Size: c.int("conv1Size", 7, minimum: 1),
                      conv1Stride: c.int("conv1Stride", 1, minimum: 1), noMaxPool: c.bool("noMaxPool", false),
                      widenFactor: c.double("widenFactor", 1), biasDownsample: c.bool("biasDownsample", true))
    }
}
