import VoxelCore
import VoxelSupport

/// `torch.nn.Dropout`: in training, each element is zeroed with probability `p` and the others scaled by
/// 1 / (1 − p); in inference (`forward`) it is the identity. The training draw comes from a
/// `SeededGenerator`, so the same seed zeroes the same elements on every machine.
public struct Dropout: Layer {
    /// Probability of zeroing an element, in [0, 1).
    public let p: Float

    /// - Throws: `NNError.invalidInput` unless 0 ≤ p < 1.
    public init(p: Float) throws {
        guard p >= 0, p < 1 else { throw NNError.invalidInput("dropout probability must be in [0, 1), got \(p)") }
        self.p = p
    }

    /// Inference: the input unchanged.
    public func forward(_ x: Tensor) throws -> Tensor { x }

    /// Training: the input with elements dropped, and the mask (1 kept, 0 dropped) for the backward pass.
    public func forwardTraining(_ x: Tensor, generator: inout SeededGenerator) -> (output: Tensor, mask: [Bool]) {
        var y = x
        var mask = [Bool](repeating: true, count: x.count)
        guard p > 0 else { return (y, mask) }
        let keep = 1 / (1 - p)
        for i in 0..<y.count {
            if Float(generator.unit()) < p {
                y.data[i] = 0
                mask[i] = false
            } else {
                y.data[i] *= keep
            }
        }
        return (y, mask)
    }
}
