import VoxelCore
import VoxelSupport

/// A dense float32 tensor in row-major order, the last axis fastest.
///
/// Images are `N × C × D × H × W` (batch, channels, depth, height, width — PyTorch's NCDHW), so element
/// `(n, c, d, h, w)` sits at `(((n·C + c)·D + d)·H + h)·W + w`. Note the axis order differs from
/// `Volume`, whose x (i) axis is fastest: a volume of size (nx, ny, nz) is the tensor `1 × 1 × nz × ny × nx`.
/// A value type: copies share storage until one is mutated.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    /// A tensor of `shape` holding `data`.
    /// - Throws: `NNError.shapeMismatch` when the element count does not match the shape.
    public init(shape: [Int], data: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == data.count else {
            throw NNError.shapeMismatch(name: "tensor", expected: shape, found: [data.count])
        }
        self.shape = shape
        self.data = data
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.shape = shape
        data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor whose every element the caller overwrites before reading (kernel outputs): no zero fill,
    /// and large buffers ask for huge pages so they fault in quickly.
    init(uninitialized shape: [Int]) {
        self.shape = shape
        let count = shape.reduce(1, *)
        data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            MemoryAdvice.preferHugePages(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Number of elements.
    public var count: Int { data.count }

    /// The same data with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor { try Tensor(shape: newShape, data: data) }

    /// For NCDHW tensors: batch, channels and the spatial size (D·H·W).
    var ncs: (n: Int, c: Int, spatial: Int) {
        (shape[0], shape.count > 1 ? shape[1] : 1, shape.count > 2 ? shape[2...].reduce(1, *) : 1)
    }

    /// Largest absolute difference from another tensor of the same shape (∞ when shapes differ).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        guard shape == other.shape else { return .infinity }
        var worst: Float = 0
        for i in 0..<data.count { worst = max(worst, abs(data[i] - other.data[i])) }
        return worst
    }
}

/// Errors of the neural-network engine: unusable weights files and mismatched shapes, with names.
public enum NNError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case missingWeight(String)
    case unexpectedWeight(String)
    case invalidWeightsFile(path: String, reason: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(name, expected, found): return "\(name): expected shape \(expected), found \(found)"
        case .missingWeight(let name): return "weight \(name) is missing from the weights file"
        case .unexpectedWeight(let name): return "weights file holds \(name), which the network does not have"
        case let .invalidWeightsFile(path, reason): return "\(path): not a usable weights file: \(reason)"
        case .invalidInput(let why): return "invalid input: \(why)"
        }
    }
}
