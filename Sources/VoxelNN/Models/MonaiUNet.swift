import VoxelCore

/// MONAI's `monai.networks.nets.UNet` (3D), with its parameter names so MONAI checkpoints load directly:
/// encoder blocks with the given strides, skip connections by channel concatenation, transposed-convolution
/// decoder, PReLU and instance norm. With `numResUnits > 0` the blocks are residual units (the usual
/// configuration); with 0, plain Convolution blocks. Kernel and up-kernel size 3, no dropout (inference).
///
/// Input `N × inChannels × D × H × W` with every spatial size divisible by the product of the strides;
/// output `N × outChannels × D × H × W` (logits).
public struct MonaiUNet: Network {
    public let inChannels: Int, outChannels: Int
    public let channels: [Int], strides: [Int]
    public let numResUnits: Int
    /// The norm of every block (MONAI's `norm`).
    public let norm: MonaiConvolution.Norm
    /// The activation of every block (MONAI's `act`).
    public let activation: MonaiConvolution.Activation
    /// The dropout probability of every block with a norm (MONAI's `dropout`, in the norm → dropout →
    /// activation order): active in training (`forward(_:on:)`), the identity at inference.
    public var dropout: Double = 0
    var root: Node

    indirect enum Node: Sendable {
        /// down → skip(sub) → concat → up
        case connection(down: Down, sub: Node, up: Up)
        case bottom(Down)
    }

    enum Down: Sendable {
        case residual(MonaiResidualUnit)
        case plain(MonaiConvolution)

        func forward(_ x: Tensor) throws -> Tensor {
            switch self {
            case .residual(let r): return try r.forward(x)
            case .plain(let c): return try c.forward(x)
            }
        }

        func parameterNames(prefix: String) -> [String] {
            switch self {
            case .residual(let r): return r.parameterNames(prefix: prefix)
            case .plain(let c): return c.parameterNames(prefix: prefix)
            }
        }

        mutating func load(from w: Safetensors, prefix: String) throws {
            switch self {
            case .residual(var r): try r.load(from: w, prefix: prefix); self = .residual(r)
            case .plain(var c): try c.load(from: w, prefix: prefix); self = .plain(c)
            }
        }
    }

    struct Up: Sendable {
        var conv: MonaiConvolution
        var unit: MonaiResidualUnit?

        func forward(_ x: Tensor) throws -> Tensor {
            let y = try conv.forward(x)
            return try unit?.forward(y) ?? y
        }

        func parameterNames(prefix: String) -> [String] {
            guard let unit else { return conv.parameterNames(prefix: prefix) }
            return conv.parameterNames(prefix: prefix + "0.") + unit.parameterNames(prefix: prefix + "1.")
        }

        mutating func load(from w: Safetensors, prefix: String) throws {
            if unit == nil {
                try conv.load(from: w, prefix: prefix)
            } else {
                try conv.load(from: w, prefix: prefix + "0.")
                try unit?.load(from: w, prefix: prefix + "1.")
            }
        }
    }

    /// The network with zero weights; call `load` before use.
    /// - Throws: `NNError.invalidInput` when `strides` does not have one entry fewer than `channels`.
    public init(inChannels: Int, outChannels: Int, channels: [Int], strides: [Int], numResUnits: Int = 0,
                kernelSize: Int = 3, upKernelSize: Int = 3, norm: MonaiConvolution.Norm = .instance(affine: false),
                activation: MonaiConvolution.Activation = .prelu) throws {
        guard channels.count >= 2, strides.count == channels.count - 1 else {
            throw NNError.invalidInput("UNet needs at least 2 channel counts and one stride fewer than channels")
        }
        guard kernelSize % 2 == 1, upKernelSize % 2 == 1 else {
            throw NNError.invalidInput("UNet: kernel sizes must be odd (MONAI pads by half the kernel)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.channels = channels
        self.strides = strides
        self.numResUnits = numResUnits
        self.norm = norm
        self.activation = activation
        func down(_ i: Int, _ o: Int, _ s: Int, isTop: Bool) -> Down {
            numResUnits > 0
                ? .residual(MonaiResidualUnit(inChannels: i, outChannels: o, stride: s, kernel: kernelSize, subunits: numResUnits,
                                              lastConvOnly: false, norm: norm, activation: activation))
                : .plain(MonaiConvolution(inChannels: i, outChannels: o, stride: s, kernel: kernelSize, transposed: false, convOnly: false,
                                          norm: norm, activation: activation))
        }
        func up(_ i: Int, _ o: Int, _ s: Int, isTop: Bool) -> Up {
            let conv = MonaiConvolution(inChannels: i, outChannels: o, stride: s, kernel: upKernelSize, transposed: true,
                                        convOnly: isTop && numResUnits == 0, norm: norm, activation: activation)
            let unit = numResUnits > 0 ? MonaiResidualUnit(inChannels: o, outChannels: o, stride: 1, kernel: kernelSize, subunits: 1,
                                                           lastConvOnly: isTop, norm: norm, activation: activation) : nil
            return Up(conv: conv, unit: unit)
        }
        func block(_ inc: Int, _ outc: Int, _ ch: ArraySlice<Int>, _ st: ArraySlice<Int>, isTop: Bool) -> Node {
            let c = ch[ch.startIndex], s = st[st.startIndex]
            let sub: Node, upc: Int
            if ch.count > 2 {
                sub = block(c, c, ch.dropFirst(), st.dropFirst(), isTop: false)
                upc = c * 2
            } else {
                sub = .bottom(down(c, ch[ch.startIndex + 1], 1, isTop: false))
                upc = c + ch[ch.startIndex + 1]
            }
            return .connection(down: down(inc, c, s, isTop: isTop), sub: sub, up: up(upc, outc, s, isTop: isTop))
        }
        root = block(inChannels, outChannels, channels[...], strides[...], isTop: true)
    }

    public var sizeMultiple: Int { strides.reduce(1, *) }
    public var isClassifier: Bool { false }

    public var parameterNames: [String] {
        func names(_ node: Node, _ prefix: String) -> [String] {
            switch node {
            case .bottom(let d): return d.parameterNames(prefix: prefix)
            case .connection(let d, let sub, let u):
                return d.parameterNames(prefix: prefix + "0.") + names(sub, prefix + "1.submodule.") + u.parameterNames(prefix: prefix + "2.")
            }
        }
        return names(root, "model.")
    }

    /// Loads a MONAI state_dict exported to safetensors (names `model.0.…`); every tensor's shape is checked.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` naming the first problem.
    public mutating func load(from weights: Safetensors) throws {
        func load(_ node: inout Node, prefix: String) throws {
            switch node {
            case .bottom(var d):
                try d.load(from: weights, prefix: prefix)
                node = .bottom(d)
            case .connection(var d, var sub, var u):
                try d.load(from: weights, prefix: prefix + "0.")
                try load(&sub, prefix: prefix + "1.submodule.")
                try u.load(from: weights, prefix: prefix + "2.")
                node = .connection(down: d, sub: sub, up: u)
            }
        }
        try load(&root, prefix: "model.")
    }

    /// Runs the network.
    /// - Throws: `NNError.invalidInput` for a wrong channel count or a size the strides do not divide.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x, "UNet")
        func run(_ node: Node, _ x: Tensor) throws -> Tensor {
            switch node {
            case .bottom(let d): return try d.forward(x)
            case .connection(let d, let sub, let u):
                let h = try d.forward(x)
                let s = try run(sub, h)
                return try u.forward(TensorOps.concatChannels([h, s]))
            }
        }
        return try run(root, x)
    }
}

extension MonaiUNet {
    /// A UNet from its description: `{"type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, …],
    /// "strides": [2, …], "numResUnits": 2}`, with MONAI's defaults for the optional keys: `numResUnits` 0,
    /// `kernelSize` 3, `upKernelSize` 3, `norm` "instance" ("instance-affine", "batch", "none"), `act` "prelu"
    /// ("relu", "leakyrelu" with `negativeSlope` 0.01), `dropout` 0 (active in training, the identity at inference).
    /// - Throws: `NNError.invalidInput` naming a missing or malformed key.
    public init(configuration c: NetworkConfiguration) throws {
        let norm: MonaiConvolution.Norm
        switch try c.string("norm", "instance") {
        case "instance": norm = .instance(affine: false)
        case "instance-affine": norm = .instance(affine: true)
        case "batch": norm = .batch
        case "none": norm = .none
        case let other: throw NNError.invalidInput("monai-unet configuration: \"norm\" \"\(other)\" is not one of instance, instance-affine, batch, none")
        }
        let activation: MonaiConvolution.Activation
        switch try c.string("act", "prelu") {
        case "prelu": activation = .prelu
        case "relu": activation = .leakyReLU(0)
        case "leakyrelu": activation = .leakyReLU(Float(try c.double("negativeSlope", 0.01)))
        case let other: throw NNError.invalidInput("monai-unet configuration: \"act\" \"\(other)\" is not one of prelu, relu, leakyrelu")
        }
        let dropout = try c.double("dropout", 0)
        guard (0..<1).contains(dropout) else { throw NNError.invalidInput("monai-unet configuration: \"dropout\" must be at least 0 and below 1, got \(dropout)") }
        try self.init(inChannels: c.int("in", minimum: 1), outChannels: c.int("out", minimum: 1), channels: c.ints("channels"),
                      strides: c.ints("strides"), numResUnits: c.int("numResUnits", 0), kernelSize: c.int("kernelSize", 3, minimum: 1),
                      upKernelSize: c.int("upKernelSize", 3, minimum: 1), norm: norm, activation: activation)
        self.dropout = dropout
    }
}
