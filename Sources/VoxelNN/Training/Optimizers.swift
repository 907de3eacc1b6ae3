import Foundation

/// Which optimiser, with PyTorch's update rules (`torch.optim.SGD`, `Adam`, `AdamW`, single-tensor,
/// float32 state).
public enum OptimizerKind: Sendable, Equatable {
    /// SGD with momentum (0: none), dampening and Nesterov momentum; weight decay added to the gradient.
    case sgd(momentum: Float, dampening: Float, nesterov: Bool)
    /// Adam; weight decay added to the gradient (L2).
    case adam(beta1: Float, beta2: Float, eps: Float)
    /// AdamW; decoupled weight decay (the parameter shrinks by lr·decay before the step).
    case adamW(beta1: Float, beta2: Float, eps: Float)
}

/// An optimiser and its state (momentum buffers, moments, step count) for every parameter by name.
/// Its state saves to and restores from named tensors, so a resumed run continues exactly.
public struct Optimizer: Sendable {
    public var kind: OptimizerKind
    public var weightDecay: Float
    /// Steps taken so far.
    public private(set) var step = 0
    /// Per parameter: SGD's momentum buffer, or Adam's first moment.
    private var first: [String: [Float]] = [:]
    /// Per parameter: Adam's second moment.
    private var second: [String: [Float]] = [:]

    public init(_ kind: OptimizerKind, weightDecay: Float = 0) {
        self.kind = kind
        self.weightDecay = weightDecay
    }

    /// One update of every parameter that has a gradient, at learning rate `lr`.
    /// - Throws: `NNError.shapeMismatch` when a gradient's shape differs from its parameter's.
    public mutating func update(_ parameters: inout ParameterStore, gradients: [String: Tensor], lr: Double) throws {
        step += 1
        let t = Double(step)
        let decay = weightDecay
        for name in parameters.names {
            guard let g = gradients[name], let shape = parameters[name]?.shape else { continue }
            guard g.shape == shape else { throw NNError.shapeMismatch(name: "gradient of \(name)", expected: shape, found: g.shape) }
            let count = g.count
            if first[name] == nil { first[name] = [Float](repeating: 0, count: count) }
            if second[name] == nil, case .sgd = kind {} else if second[name] == nil { second[name] = [Float](repeating: 0, count: count) }
            let isFirstStep = step == 1 || (first[name]?.isEmpty ?? true)
            parameters.modify(name) { p in
                p.data.withUnsafeMutableBufferPointer { pp in
                g.data.withUnsafeBufferPointer { gp in
                first[name, default: []].withUnsafeMutableBufferPointer { mp in
                    switch kind {
                    case let .sgd(momentum, dampening, nesterov):
                        let rate = Float(lr)
                        for i in 0..<count {
                            var d = gp[i] + decay * pp[i]
                            if momentum != 0 {
                                mp[i] = isFirstStep ? d : momentum * mp[i] + (1 - dampening) * d
                                d = nesterov ? d + momentum * mp[i] : mp[i]
                            }
                            pp[i] -= rate * d
                        }
                    case let .adam(beta1, beta2, eps), let .adamW(beta1, beta2, eps):
                        var isW = false
                        if case .adamW = kind { isW = true }
                        let shrink = Float(1 - lr * Double(decay))
                        let c1 = 1 - Foundation.pow(Double(beta1), t), c2 = 1 - Foundation.pow(Double(beta2), t)
                        let stepSize = Float(lr / c1), c2Root = Float(c2.squareRoot())
                        second[name, default: []].withUnsafeMutableBufferPointer { vp in
                            for i in 0..<count {
                                var d = gp[i]
                                if isW { pp[i] *= shrink } else if decay != 0 { d += decay * pp[i] }
                                mp[i] += (d - mp[i]) * (1 - beta1)
                                vp[i] = vp[i] * beta2 + (1 - beta2) * d * d
                                let denom = vp[i].squareRoot() / c2Root + eps
                                pp[i] -= stepSize * (mp[i] / denom)
                            }
                        }
                    }
                }
                }
                }
            }
        }
    }

    /// The state as named tensors (`optimizer.first.NAME`, `optimizer.second.NAME`) for a checkpoint, with the
    /// step count in the metadata.
    public func stateTensors(shapes parameters: ParameterStore) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for name in parameters.names {
            guard let shape = parameters[name]?.shape else { continue }
            if let m = first[name] { out.append(("optimizer.first." + name, Tensor(shape: shape, values: m))) }
            if let v = second[name] { out.append(("optimizer.second." + name, Tensor(shape: shape, values: v))) }
        }
        return out
    }

    /// Restores the state saved by `stateTensors` and the step count.
    public mutating func restore(from weights: Safetensors, step: Int) throws {
        self.step = step
        first = [:]
        second = [:]
        for name in weights.entries.keys {
            if name.hasPrefix("optimizer.first.") { first[String(name.dropFirst(16))] = try weights.tensor(name).data }
            if name.hasPrefix("optimizer.second.") { second[String(name.dropFirst(17))] = try weights.tensor(name).data }
        }
    }
}

/// Rescales every gradient so that their global L2 norm is at most `maxNorm`
/// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout [String: Tensor], maxNorm: Float) -> Float {
    var squares = 0.0
    for g in gradients.values { for v in g.data { squares += Double(v) * Double(v) } }
    let norm = Float(squares.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for key in Array(gradients.keys) {
            guard var g = gradients[key] else { continue }
            for i in 0..<g.count { g.data[i] *= coefficient }
            gradients[key] = g
        }
    }
    return norm
}

/// The learning rate at each step.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// nnU-Net's `PolyLRScheduler`: base·(1 − step/total)^exponent.
    case poly(exponent: Double)
    /// Linear warm-up from 0 over `warmup` steps, then half a cosine down to 0 at the last step
    /// (MONAI's `WarmupCosineSchedule` with its defaults).
    case cosine(warmup: Int)
    /// base·gamma^⌊step/every⌋ (`torch.optim.lr_scheduler.StepLR`).
    case step(every: Int, gamma: Double)

    /// The rate for step `step` (0-based) of `total`.
    public func rate(base: Double, step: Int, total: Int) -> Double {
        switch self {
        case .constant: return base
        case .poly(let exponent): return base * Foundation.pow(max(0, 1 - Double(step) / Double(max(1, total))), exponent)
        case .cosine(let warmup):
            if step < warmup { return base * Double(step) / Double(max(1, warmup)) }
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return base * max(0, 0.5 * (1 + Foundation.cos(Double.pi * progress)))
        case let .step(every, gamma): return base * Foundation.pow(gamma, Double(step / max(1, every)))
        }
    }
}
