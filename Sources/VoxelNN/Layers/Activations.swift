import VoxelCore
import Dispatch
import Foundation
import VoxelSupport

/// `torch.nn.ReLU`.
public struct ReLU: Layer {
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        for i in 0..<y.count where y.data[i] < 0 { y.data[i] = 0 }
        return y
    }
}

/// `torch.nn.LeakyReLU`: `x` for x ≥ 0, `slope · x` below.
public struct LeakyReLU: Layer {
    public var slope: Float
    public init(slope: Float = 0.01) { self.slope = slope }
    public func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        for i in 0..<y.count where y.data[i] < 0 { y.data[i] *= slope }
        return y
    }
}

/// `torch.nn.PReLU` with one learned slope per channel (or one for all). Parameter `weight`.
public struct PReLU: ParameterizedLayer {
    public var weight: Tensor

    /// `channels` slopes (1: shared), initialised to 0.25 as PyTorch does.
    public init(channels: Int = 1) { weight = Tensor(repeating: 0.25, shape: [channels]) }

    public var parameterNames: [String] { ["weight"] }

    public mutating func load(from weights: Safetensors, prefix: String) throws {
        weight = try weights.tensor(prefix + "weight", shape: weight.shape)
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let (n, c, s) = x.ncs
        guard weight.count == 1 || (x.shape.count >= 2 && c == weight.count) else {
            throw NNError.invalidInput("PReLU has \(weight.count) slopes for input \(x.shape)")
        }
        var y = x
        let slopes = weight.data
        y.data.withUnsafeMutableBufferPointer { buffer in
            guard let base0 = buffer.baseAddress else { return }
            let shared = Shared(base0)
            Parallel.perform(n * c) { plane in
                let a = slopes[slopes.count == 1 ? 0 : plane % c]
                let p = shared.value + plane * s
                for i in 0..<s where p[i] < 0 { p[i] *= a }
            }
        }
        return y
    }
}

/// `torch.nn.Sigmoid`.
public struct Sigmoid: Layer {
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        for i in 0..<y.count { y.data[i] = 1 / (1 + Foundation.exp(-y.data[i])) }
        return y
    }
}

/// `torch.nn.Softmax(dim=1)`: over the channels of each voxel (max subtracted for stability).
public struct Softmax: Layer {
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape.count >= 2 else { throw NNError.invalidInput("Softmax over channels needs N × C × …, got \(x.shape)") }
        var y = x
        let (n, c, s) = x.ncs
        for b in 0..<n {
            for i in 0..<s {
                var m = -Float.infinity
                for ch in 0..<c { m = max(m, x.data[(b * c + ch) * s + i]) }
                var sum: Float = 0
                for ch in 0..<c { let e = Foundation.exp(x.data[(b * c + ch) * s + i] - m); y.data[(b * c + ch) * s + i] = e; sum += e }
                for ch in 0..<c { y.data[(b * c + ch) * s + i] /= sum }
            }
        }
        return y
    }
}
