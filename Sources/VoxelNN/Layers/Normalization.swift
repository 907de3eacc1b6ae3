import VoxelCore
import Dispatch
import VoxelSupport

/// `torch.nn.InstanceNorm3d`: each (sample, channel) normalised by its own mean and biased variance,
/// `eps` 1e-5, optional per-channel affine (MONAI's default norm in `UNet`).
public struct InstanceNorm3d: ParameterizedLayer {
    public var weight: Tensor?
    public var bias: Tensor?
    public var eps: Float = 1e-5
    public let channels: Int

    public init(channels: Int, affine: Bool = false) {
        self.channels = channels
        weight = affine ? Tensor(repeating: 1, shape: [channels]) : nil
        bias = affine ? Tensor(zeros: [channels]) : nil
    }

    public var parameterNames: [String] { weight == nil ? [] : ["weight", "bias"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        guard weight != nil else { return }
        weight = try weights.tensor(prefix + "weight", shape: [channels])
        bias = try weights.tensor(prefix + "bias", shape: [channels])
    }

    public func forward(_ x: Tensor) throws -> Tensor { try forward(x, negativeSlope: nil) }

    /// Normalises and, when `negativeSlope` is given, applies a leaky ReLU / single-slope PReLU with that
    /// slope (0: ReLU) in the same pass over the data.
    public func forward(_ x: Tensor, negativeSlope: Float?) throws -> Tensor {
        var y = x
        try apply(&y, negativeSlope: negativeSlope)
        return y
    }

    /// `forward(_:negativeSlope:)` on the tensor's own storage: no copy when the caller holds the only
    /// reference (a convolution's fresh output).
    public func apply(_ x: inout Tensor, negativeSlope: Float?) throws {
        try requireRank(x, 5, channels: channels, "InstanceNorm3d")
        Normalization.groupedInPlace(&x, groups: channels, eps: eps, weight: weight, bias: bias, negativeSlope: negativeSlope)
    }
}

/// `torch.nn.GroupNorm` on NCDHW tensors: channels split into `groups`, each (sample, group) normalised.
public struct GroupNorm: ParameterizedLayer {
    public var weight: Tensor
    public var bias: Tensor
    public var eps: Float = 1e-5
    public let groups: Int

    public init(groups: Int, channels: Int) {
        self.groups = groups
        weight = Tensor(repeating: 1, shape: [channels])
        bias = Tensor(zeros: [channels])
    }

    public var parameterNames: [String] { ["weight", "bias"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        weight = try weights.tensor(prefix + "weight", shape: weight.shape)
        bias = try weights.tensor(prefix + "bias", shape: bias.shape)
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, channels: weight.count, "GroupNorm")
        guard groups > 0, weight.count % groups == 0 else {
            throw NNError.invalidInput("GroupNorm: \(groups) groups do not divide \(weight.count) channels")
        }
        return Normalization.grouped(x, groups: groups, eps: eps, weight: weight, bias: bias)
    }
}

/// `torch.nn.BatchNorm3d` in evaluation mode: running mean and variance, per-channel affine.
public struct BatchNorm3d: ParameterizedLayer {
    public var weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor
    public var eps: Float = 1e-5

    public init(channels: Int) {
        weight = Tensor(repeating: 1, shape: [channels])
        bias = Tensor(zeros: [channels])
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(repeating: 1, shape: [channels])
    }

    public var parameterNames: [String] { ["weight", "bias", "running_mean", "running_var"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        let c = [weight.count]
        weight = try weights.tensor(prefix + "weight", shape: c)
        bias = try weights.tensor(prefix + "bias", shape: c)
        runningMean = try weights.tensor(prefix + "running_mean", shape: c)
        runningVar = try weights.tensor(prefix + "running_var", shape: c)
    }

    public func forward(_ x: Tensor) throws -> Tensor { try forward(x, negativeSlope: nil) }

    /// Normalises and, when `negativeSlope` is given, applies `v < 0 ? slope·v : v` (0: ReLU) in the same pass.
    public func forward(_ x: Tensor, negativeSlope: Float?) throws -> Tensor {
        try requireRank(x, 5, channels: weight.count, "BatchNorm3d")
        var y = x
        let (n, c, s) = x.ncs
        let scales = (0..<c).map { weight.data[$0] / (runningVar.data[$0] + eps).squareRoot() }
        let shifts = (0..<c).map { bias.data[$0] - runningMean.data[$0] * scales[$0] }
        y.data.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let shared = Shared(base)
            Parallel.perform(n * c) { plane in
                let p = shared.value + plane * s
                let scale = scales[plane % c], shift = shifts[plane % c]
                if let slope = negativeSlope {
                    for i in 0..<s { let v = p[i] * scale + shift; p[i] = v < 0 ? v * slope : v }
                } else {
                    for i in 0..<s { p[i] = p[i] * scale + shift }
                }
            }
        }
        return y
    }
}

enum Normalization {
    /// Normalises each (sample, group of channels) to zero mean and unit variance (biased), then applies
    /// the per-channel affine when given, then (with `negativeSlope`) `v < 0 ? slope·v : v`.
    static func grouped(_ x: Tensor, groups: Int, eps: Float, weight: Tensor?, bias: Tensor?, negativeSlope: Float? = nil) -> Tensor {
        var y = x
        groupedInPlace(&y, groups: groups, eps: eps, weight: weight, bias: bias, negativeSlope: negativeSlope)
        return y
    }

    /// Mean and 1/√(biased variance + eps) of `count` values in one pass: sums of (v − k) and (v − k)² with k
    /// the mean of the first values (which keeps the subtraction from cancelling), in float runs of 1,024
    /// added up in double.
    static func moments(_ data: UnsafePointer<Float>, count: Int, eps: Float) -> (mean: Double, inverseStd: Double) {
        var k: Float = 0
        let head = min(count, 1024)
        for i in 0..<head { k += data[i] }
        k /= Float(max(1, head))
        var sum = 0.0, squares = 0.0
        var start = 0
        while start < count {
            let end = min(count, start + 1024)
            var s1: Float = 0, s2: Float = 0
            for i in start..<end { let d = data[i] - k; s1 += d; s2 += d * d }
            sum += Double(s1)
            squares += Double(s2)
            start = end
        }
        let shiftedMean = sum / Double(max(1, count))
        let variance = max(0, squares / Double(max(1, count)) - shiftedMean * shiftedMean)
        return (Double(k) + shiftedMean, 1 / (variance + Double(eps)).squareRoot())
    }

    /// `grouped` on the tensor's own storage (no copy when it is uniquely referenced). Mean and variance
    /// come from one pass: sums of (v − k) and (v − k)² with k the mean of the first values (which keeps
    /// the subtraction from cancelling), in float runs of 1,024 added up in double.
    static func groupedInPlace(_ y: inout Tensor, groups: Int, eps: Float, weight: Tensor?, bias: Tensor?, negativeSlope: Float? = nil) {
        let (n, c, s) = y.ncs
        let perGroup = c / groups
        y.data.withUnsafeMutableBufferPointer { buffer in
            guard let base0 = buffer.baseAddress else { return }
            let shared = Shared(base0)
            Parallel.perform(n * groups) { job in
                let b = job / groups, g = job % groups
                let data = shared.value + (b * c + g * perGroup) * s
                let count = perGroup * s
                guard count > 0 else { return }
                let (mean, inv) = moments(UnsafePointer(data), count: count, eps: eps)
                for ch in 0..<perGroup {
                    let channel = g * perGroup + ch
                    let scale = Float(inv * Double(weight?.data[channel] ?? 1))
                    let shift = Float(Double(bias?.data[channel] ?? 0) - mean * inv * Double(weight?.data[channel] ?? 1))
                    let p = data + ch * s
                    if let slope = negativeSlope {
                        for i in 0..<s { let v = p[i] * scale + shift; p[i] = v < 0 ? v * slope : v }
                    } else {
                        for i in 0..<s { p[i] = p[i] * scale + shift }
                    }
                }
            }
        }
    }
}
