/// Reverse-mode differentiation for one training step.
///
/// A forward pass in training mode records each operation on the tape with a closure that turns the
/// gradient of its output into gradients of its inputs. Only what a backward closure needs is kept (a
/// convolution keeps its input, a normalisation its normalised values): outputs are not stored by the tape,
/// they live as long as the caller or a later operation holds them. `backward(from:gradient:)` runs the
/// closures in reverse order, releasing each after use, and leaves the gradient of every parameter by its
/// state_dict name in `parameterGradients`.
///
/// A tape is used by one thread for one step; kernels inside operations run in parallel as in inference.
public final class GradientTape {
    /// A value on the tape: the tensor and the index of the operation that produced it.
    public struct Variable: Sendable {
        public let id: Int
        public let value: Tensor
        public var shape: [Int] { value.shape }
    }

    private var gradients: [Tensor?] = []
    private var backwards: [((Tensor, GradientTape) -> Void)?] = []
    private var parameterNames: [Int: String] = [:]
    private var parameterIDs: [String: Variable] = [:]
    /// Ids of `constant` values, whose gradients are never computed.
    private(set) var constants: Set<Int> = []
    private let store: ParameterStore

    /// Gradients of the parameters after `backward`, by state_dict name (parameters the output does not
    /// depend on get zeros).
    public private(set) var parameterGradients: [String: Tensor] = [:]

    /// The batch statistics of every batch normalisation run in training mode on this tape, by the layer's
    /// state_dict prefix (e.g. `layer1.0.bn1.`), for `ParameterStore.updateRunningStatistics`.
    public internal(set) var batchStatistics: [String: BatchStatistics] = [:]

    /// The seed of the dropout masks drawn on this tape: the n-th `dropout` operation draws its mask from
    /// (seed, n), so the same seed and forward pass give the same masks (a resumed run repeats them).
    public var dropoutSeed: UInt64 = 0
    /// The number of `dropout` operations recorded so far.
    var dropoutCalls = 0

    /// A tape whose parameters are read from `store`.
    public init(parameters store: ParameterStore) { self.store = store }

    /// A value the loss is not differentiated against (the input batch).
    public func constant(_ value: Tensor) -> Variable {
        let v = record(value, backward: nil)
        constants.insert(v.id)
        return v
    }

    /// The parameter `name` as a leaf of the tape (one leaf per name, however often it is used).
    /// - Throws: `NNError.missingWeight` when the store does not hold it.
    public func parameter(_ name: String) throws -> Variable {
        if let known = parameterIDs[name] { return known }
        guard let value = store[name] else { throw NNError.missingWeight(name) }
        let v = record(value, backward: nil)
        parameterNames[v.id] = name
        parameterIDs[name] = v
        return v
    }

    /// Records an operation's output with the closure that propagates its gradient (nil for leaves).
    func record(_ value: Tensor, backward: ((Tensor, GradientTape) -> Void)?) -> Variable {
        gradients.append(nil)
        backwards.append(backward)
        return Variable(id: backwards.count - 1, value: value)
    }

    /// Adds `gradient` to the gradient of `v` (called by backward closures).
    func accumulate(_ v: Variable, _ gradient: Tensor) {
        if var existing = gradients[v.id] {
            gradients[v.id] = nil
            existing.data.withUnsafeMutableBufferPointer { e in
                gradient.data.withUnsafeBufferPointer { g in
                    for i in 0..<min(e.count, g.count) { e[i] += g[i] }
                }
            }
            gradients[v.id] = existing
        } else {
            gradients[v.id] = gradient
        }
    }

    /// Propagates `gradient` (the loss's gradient with respect to `output`) back through every operation
    /// recorded so far and fills `parameterGradients`. The tape cannot be used again afterwards.
    public func backward(from output: Variable, gradient: Tensor) {
        accumulate(output, gradient)
        for id in stride(from: backwards.count - 1, through: 0, by: -1) {
            guard let g = gradients[id] else { continue }
            if let step = backwards[id] {
                gradients[id] = nil
                backwards[id] = nil
                step(g, self)
            } else if let name = parameterNames[id] {
                parameterGradients[name] = g
                gradients[id] = nil
            }
        }
        for (name, v) in parameterIDs where parameterGradients[name] == nil {
            parameterGradients[name] = Tensor(zeros: v.value.shape)
        }
        backwards.removeAll()
        gradients.removeAll()
    }
}

/// Named parameter tensors of a network under PyTorch state_dict names, in the network's order: what
/// training reads, optimisers update and checkpoints save.
public struct ParameterStore: Sendable {
    /// Names in the network's order.
    public private(set) var names: [String]
    private var tensors: [String: Tensor]

    /// A store holding `tensors` in the given order.
    public init(_ tensors: [(String, Tensor)]) {
        names = tensors.map(\.0)
        self.tensors = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
    }

    /// The store of every parameter a network reads from `weights`, in the network's order.
    /// - Throws: `NNError.missingWeight` / `.shapeMismatch` as loading does.
    public init(network: any Network, weights: Safetensors) throws {
        self.init(try network.parameterNames.map { ($0, try weights.tensor($0)) })
    }

    /// Runs `body` on the tensor `name` in place (no copy of its storage); false when there is none.
    @discardableResult
    public mutating func modify(_ name: String, _ body: (inout Tensor) throws -> Void) rethrows -> Bool {
        // Moved out of the dictionary, the tensor is uniquely referenced, so `body` mutates it without a copy.
        guard var tensor = tensors.removeValue(forKey: name) else { return false }
        defer { tensors[name] = tensor }
        try body(&tensor)
        return true
    }

    public subscript(name: String) -> Tensor? {
        get { tensors[name] }
        set {
            if tensors[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            tensors[name] = newValue
        }
    }

    /// Every tensor in order.
    public var ordered: [(String, Tensor)] { names.compactMap { n in tensors[n].map { (n, $0) } } }

    /// The parameters as an in-memory weights store (to load into a network or write to a file).
    public func safetensors(metadata: [String: String] = [:]) throws -> Safetensors {
        try Safetensors(tensors: ordered, path: "parameters", metadata: metadata)
    }

    /// Total number of values.
    public var count: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
