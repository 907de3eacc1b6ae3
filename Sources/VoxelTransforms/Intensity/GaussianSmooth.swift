import Dispatch
import VoxelCore
import VoxelSupport

/// Separable Gaussian smoothing with σ in voxels per axis — scipy's `gaussian_filter`: kernel radius
/// ⌊4σ + 0.5⌋, weights normalised to 1, borders mirrored with the edge sample repeated ("reflect").
/// Output float32 physical values.
public struct GaussianSmooth: Codable, Sendable, Equatable {
    /// Standard deviation in voxels along i, j, k (0 leaves an axis alone).
    public var sigma: [Double]

    /// Creates the transform.
    public init(sigma: [Double]) throws {
        guard sigma.count == 3, sigma.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw TransformError.invalidParameter("sigma must be 3 non-negative numbers (voxels), got \(sigma)")
        }
        self.sigma = sigma
    }

    static func kernel(_ sigma: Double) -> [Double] {
        let radius = Int(4 * sigma + 0.5)
        var k = (-radius...radius).map { x in Math.exp(-0.5 * Double(x * x) / (sigma * sigma)) }
        let total = k.reduce(0, +)
        k = k.map { $0 / total }
        return k
    }

    /// Applies the smoothing (every time point).
    public func apply(_ volume: Volume) throws -> Volume {
        // In place on the float32 output; each line is filtered in double precision through two small
        // per-thread buffers, so the only full-size array is the output itself.
        var data = volume.physicalFloats()
        let s = volume.geometry.size
        let dims = [s.x, s.y, s.z], strides = [1, s.x, s.x * s.y]
        let frame = s.x * s.y * s.z
        for axis in 0..<3 where sigma[axis] > 0 {
            let k = Self.kernel(sigma[axis]), r = k.count / 2, n = dims[axis], stride = strides[axis]
            // Lines along `axis`: every combination of the other two indices, for every time point.
            let lines = data.count / n
            data.withUnsafeMutableBufferPointer { out in
                let shared = Shared(out)
                let chunks = ComputeBudget.threads * 4
                Parallel.perform(chunks) { chunk in
                    let per = (lines + chunks - 1) / chunks
                    let first = min(lines, chunk * per), last = min(lines, first + per)
                    var line = [Double](repeating: 0, count: n)
                    var result = [Double](repeating: 0, count: n)
                    for l in first..<last {
                        // Decompose the line number into its start index.
                        let t = l / (frame / n), rest = l % (frame / n)
                        let start: Int
                        switch axis {
                        case 0: start = rest * s.x
                        case 1: start = (rest / s.x) * s.x * s.y + rest % s.x
                        default: start = rest
                        }
                        let base = t * frame + start
                        for i in 0..<n { line[i] = Double(shared.value[base + i * stride]) }
                        for i in 0..<n {
                            var acc = 0.0
                            for (m, w) in k.enumerated() {
                                var j = i + m - r
                                if j < 0 { j = -j - 1 } else if j >= n { j = 2 * n - j - 1 }  // reflect, edge repeated
                                j = min(max(j, 0), n - 1)
                                acc += w * line[j]
                            }
                            result[i] = acc
                        }
                        for i in 0..<n { shared.value[base + i * stride] = Float(result[i]) }
                    }
                }
            }
        }
        return try volume.replacingVoxels(with: .float32(data))
    }
}

/// Gaussian blur with σ (voxels, the same on every axis) drawn from `sigmaRange`, with probability
/// `probability`; labels untouched.
public struct RandomGaussianBlur: Codable, Sendable, Equatable {
    public var probability: Double
    public var sigmaRange: ClosedRange<Double>

    /// Creates the augmentation.
    public init(probability: Double = 0.5, sigmaRange: ClosedRange<Double> = 0.5...1.5) throws {
        try checkAugmentation(probability: probability, sigmaRange.lowerBound >= 0, "σ ≥ 0")
        self.probability = probability
        self.sigmaRange = sigmaRange
    }

    /// Draws σ and blurs.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        guard let sigma = rng.draw(probability: probability, in: sigmaRange) else { return sample }
        return try sample.withImage(GaussianSmooth(sigma: [sigma, sigma, sigma]).apply(sample.image))
    }
}
