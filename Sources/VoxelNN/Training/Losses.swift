import Foundation

/// A loss's value for a batch and its gradient with respect to the network's output (the logits).
public struct LossEvaluation: Sendable {
    public var value: Float
    /// Same shape as the logits.
    public var gradient: Tensor
}

/// A segmentation or classification loss on logits `N × C × …` and a target of class indices `N × …`
/// (one value per voxel or per sample, stored as floats) or, for the sigmoid losses, a target of the logits'
/// shape (one channel per label, values 0…1).
public protocol Loss: Sendable {
    /// The mean loss over the batch and its gradient.
    /// - Throws: `NNError.invalidInput` when the target does not fit the logits.
    func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation
}

/// How a loss turns logits into probabilities.
public enum LossActivation: String, Sendable, Codable {
    case softmax, sigmoid, none
}

enum LossSupport {
    /// `target` as per-channel values of the logits' shape: class indices become one-hot; a target of the
    /// logits' own shape is used as it is.
    static func channels(_ target: Tensor, like logits: Tensor) throws -> Tensor {
        if target.shape == logits.shape { return target }
        let (n, c, s) = logits.ncs
        let indexShape = [n] + Array(logits.shape.dropFirst(2))
        guard target.shape == indexShape || target.shape == [n, 1] + Array(logits.shape.dropFirst(2)) else {
            throw NNError.invalidInput("loss: target \(target.shape) fits neither the logits \(logits.shape) nor their class-index shape \(indexShape)")
        }
        var onehot = Tensor(zeros: logits.shape)
        for b in 0..<n {
            for i in 0..<s {
                let label = target.data[b * s + i]
                let k = Int(label)
                guard Float(k) == label, k >= 0, k < c else {
                    throw NNError.invalidInput("loss: label \(label) is not a class index in 0..<\(c)")
                }
                onehot.data[(b * c + k) * s + i] = 1
            }
        }
        return onehot
    }

    /// Softmax over the channels of each position (the `Softmax` layer; logits are always N × C × …).
    static func softmax(_ x: Tensor) -> Tensor { (try? Softmax().forward(x)) ?? x }

    static func sigmoid(_ v: Float) -> Float { 1 / (1 + Foundation.exp(-v)) }

    /// log σ(v), computed without overflow.
    static func logSigmoid(_ v: Float) -> Float { min(v, 0) - Foundation.log1p(Foundation.exp(-abs(v))) }

    /// The gradient with respect to the logits given the gradient `dp` with respect to `activation(logits)`.
    static func throughActivation(_ dp: Tensor, probabilities p: Tensor, _ activation: LossActivation) -> Tensor {
        var dx = dp
        switch activation {
        case .none: break
        case .sigmoid:
            for i in 0..<dx.count { dx.data[i] = dp.data[i] * p.data[i] * (1 - p.data[i]) }
        case .softmax:
            let (n, c, s) = p.ncs
            for b in 0..<n {
                for i in 0..<s {
                    var dot: Float = 0
                    for ch in 0..<c { let k = (b * c + ch) * s + i; dot += p.data[k] * dp.data[k] }
                    for ch in 0..<c { let k = (b * c + ch) * s + i; dx.data[k] = p.data[k] * (dp.data[k] - dot) }
                }
            }
        }
        return dx
    }
}

/// MONAI's `DiceLoss`: per sample and channel (or per channel over the whole batch with `batch`),
/// `1 − (2·Σ p·t + smoothNr) / (Σ p + Σ t + smoothDr)` (squares of p and t with `squaredPred`), averaged.
/// Class-index targets are one-hot encoded (MONAI's `to_onehot_y`); without `includeBackground` channel 0
/// is left out after the activation.
public struct DiceLoss: Loss {
    public var activation: LossActivation
    public var includeBackground: Bool
    public var smoothNr: Float, smoothDr: Float
    public var squaredPred: Bool
    public var batch: Bool

    public init(activation: LossActivation = .softmax, includeBackground: Bool = true, smoothNr: Float = 1e-5, smoothDr: Float = 1e-5,
                squaredPred: Bool = false, batch: Bool = false) {
        self.activation = activation
        self.includeBackground = includeBackground
        self.smoothNr = smoothNr
        self.smoothDr = smoothDr
        self.squaredPred = squaredPred
        self.batch = batch
    }

    public func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation {
        let t = try LossSupport.channels(target, like: logits)
        let p: Tensor
        switch activation {
        case .softmax: p = LossSupport.softmax(logits)
        case .sigmoid: p = Tensor(shape: logits.shape, values: logits.data.map(LossSupport.sigmoid))
        case .none: p = logits
        }
        let (n, c, s) = logits.ncs
        let first = includeBackground ? 0 : 1
        guard c > first else { throw NNError.invalidInput("DiceLoss without background needs at least 2 channels, got \(c)") }
        let groups = batch ? 1 : n
        let terms = Float(groups * (c - first))
        var dp = Tensor(zeros: logits.shape)
        var total: Double = 0
        for ch in first..<c {
            for group in 0..<groups {
                let samples = batch ? Array(0..<n) : [group]
                var inter: Double = 0, sumP: Double = 0, sumT: Double = 0
                for b in samples {
                    let base = (b * c + ch) * s
                    for i in 0..<s {
                        let pv = Double(p.data[base + i]), tv = Double(t.data[base + i])
                        inter += pv * tv
                        sumP += squaredPred ? pv * pv : pv
                        sumT += squaredPred ? tv * tv : tv
                    }
                }
                let num = 2 * inter + Double(smoothNr), den = sumP + sumT + Double(smoothDr)
                total += 1 - num / den
                // ∂(1 − num/den)/∂p = −(2t·den − num·∂den/∂p) / den², averaged over the terms.
                for b in samples {
                    let base = (b * c + ch) * s
                    for i in 0..<s {
                        let pv = Double(p.data[base + i]), tv = Double(t.data[base + i])
                        let dden = squaredPred ? 2 * pv : 1
                        dp.data[base + i] = Float(-(2 * tv * den - num * dden) / (den * den)) / terms
                    }
                }
            }
        }
        return LossEvaluation(value: Float(total / Double(terms)), gradient: LossSupport.throughActivation(dp, probabilities: p, activation))
    }
}

/// `torch.nn.CrossEntropyLoss` on logits `N × C × …` and class-index targets, with optional class weights
/// (the weighted mean divides by the summed weights of the targets, as PyTorch does).
public struct CrossEntropyLoss: Loss {
    public var classWeights: [Float]?

    public init(classWeights: [Float]? = nil) { self.classWeights = classWeights }

    public func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation {
        let t = try LossSupport.channels(target, like: logits)
        let (n, c, s) = logits.ncs
        if let w = classWeights, w.count != c { throw NNError.invalidInput("CrossEntropyLoss has \(w.count) class weights for \(c) classes") }
        let p = LossSupport.softmax(logits)
        var dx = Tensor(zeros: logits.shape)
        var total: Double = 0, weightSum: Double = 0
        for b in 0..<n {
            for i in 0..<s {
                var k = 0
                for ch in 0..<c where t.data[(b * c + ch) * s + i] > 0.5 { k = ch }
                let w = Double(classWeights?[k] ?? 1)
                total -= w * Foundation.log(max(Double(p.data[(b * c + k) * s + i]), Double.leastNonzeroMagnitude))
                weightSum += w
                for ch in 0..<c {
                    let idx = (b * c + ch) * s + i
                    dx.data[idx] = Float(w) * (p.data[idx] - (ch == k ? 1 : 0))
                }
            }
        }
        let scale = Float(1 / max(weightSum, .leastNonzeroMagnitude))
        for i in 0..<dx.count { dx.data[i] *= scale }
        return LossEvaluation(value: Float(total / max(weightSum, .leastNonzeroMagnitude)), gradient: dx)
    }
}

/// MONAI's `DiceCELoss` with softmax and one-hot targets: `lambdaDice · Dice + lambdaCE · CrossEntropy`.
public struct DiceCELoss: Loss {
    public var dice: DiceLoss
    public var crossEntropy: CrossEntropyLoss
    public var lambdaDice: Float, lambdaCE: Float

    public init(dice: DiceLoss = DiceLoss(), crossEntropy: CrossEntropyLoss = CrossEntropyLoss(), lambdaDice: Float = 1, lambdaCE: Float = 1) {
        self.dice = dice
        self.crossEntropy = crossEntropy
        self.lambdaDice = lambdaDice
        self.lambdaCE = lambdaCE
    }

    public func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation {
        let d = try dice.evaluate(logits: logits, target: target)
        let e = try crossEntropy.evaluate(logits: logits, target: target)
        var g = d.gradient
        for i in 0..<g.count { g.data[i] = lambdaDice * g.data[i] + lambdaCE * e.gradient.data[i] }
        return LossEvaluation(value: lambdaDice * d.value + lambdaCE * e.value, gradient: g)
    }
}

/// `torch.nn.BCEWithLogitsLoss`: the mean over every element of −[t·log σ(x) + (1 − t)·log(1 − σ(x))],
/// with an optional weight for the positive term per channel (`pos_weight`).
public struct BCEWithLogitsLoss: Loss {
    public var positiveWeights: [Float]?

    public init(positiveWeights: [Float]? = nil) { self.positiveWeights = positiveWeights }

    public func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation {
        let t = try LossSupport.channels(target, like: logits)
        let (_, c, s) = logits.ncs
        if let w = positiveWeights, w.count != c { throw NNError.invalidInput("BCEWithLogitsLoss has \(w.count) positive weights for \(c) channels") }
        var dx = Tensor(zeros: logits.shape)
        var total: Double = 0
        let count = Float(max(1, logits.count))
        for i in 0..<logits.count {
            let x = logits.data[i], y = t.data[i]
            let pw = positiveWeights?[(i / s) % c] ?? 1
            // −[pw·y·log σ(x) + (1 − y)·log σ(−x)]
            total -= Double(pw * y * LossSupport.logSigmoid(x) + (1 - y) * LossSupport.logSigmoid(-x))
            dx.data[i] = (-pw * y * (1 - LossSupport.sigmoid(x)) + (1 - y) * LossSupport.sigmoid(x)) / count
        }
        return LossEvaluation(value: Float(total / Double(count)), gradient: dx)
    }
}

/// MONAI's `FocalLoss` in its sigmoid form: the binary cross-entropy of each element scaled by
/// σ(−x·(2t − 1))^γ, and by α·t + (1 − α)·(1 − t) when `alpha` is given; the mean over every element.
/// Class-index targets are one-hot encoded; without `includeBackground` channel 0 is left out.
public struct FocalLoss: Loss {
    public var gamma: Float
    public var alpha: Float?
    public var includeBackground: Bool

    public init(gamma: Float = 2, alpha: Float? = nil, includeBackground: Bool = true) {
        self.gamma = gamma
        self.alpha = alpha
        self.includeBackground = includeBackground
    }

    public func evaluate(logits: Tensor, target: Tensor) throws -> LossEvaluation {
        let t = try LossSupport.channels(target, like: logits)
        let (n, c, s) = logits.ncs
        let first = includeBackground ? 0 : 1
        guard c > first else { throw NNError.invalidInput("FocalLoss without background needs at least 2 channels, got \(c)") }
        let count = Float(n * (c - first) * s)
        var dx = Tensor(zeros: logits.shape)
        var total: Double = 0
        for b in 0..<n {
            for ch in first..<c {
                for i in 0..<s {
                    let idx = (b * c + ch) * s + i
                    let x = logits.data[idx], y = t.data[idx]
                    let bce = x - x * y - LossSupport.logSigmoid(x)
                    let sign = 2 * y - 1
                    let q = LossSupport.sigmoid(-x * sign)
                    let factor = Foundation.exp(gamma * LossSupport.logSigmoid(-x * sign))
                    let a = alpha.map { $0 * y + (1 - $0) * (1 - y) } ?? 1
                    total += Double(a * factor * bce)
                    let dFactor = -gamma * sign * factor * (1 - q)
                    dx.data[idx] = a * (dFactor * bce + factor * (LossSupport.sigmoid(x) - y)) / count
                }
            }
        }
        return LossEvaluation(value: Float(total / Double(count)), gradient: dx)
    }
}

extension Tensor {
    /// A tensor of `shape` holding `values` whose count the caller guarantees.
    init(shape: [Int], values: [Float]) {
        self.init(repeating: 0, shape: shape)
        data = values
    }
}
