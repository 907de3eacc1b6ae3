import VoxelCore
import VoxelSupport

/// Contrast scaling about the mean, nnU-Net style: `(x − mean)·f + mean` with f from `factorRange`, then
/// clipped to the original value range. Labels untouched. Output float32.
public struct RandomContrast: Codable, Sendable, Equatable {
    public var probability: Double
    public var factorRange: ClosedRange<Double>

    /// Creates the augmentation.
    public init(probability: Double = 0.5, factorRange: ClosedRange<Double> = 0.75...1.25) throws {
        try checkAugmentation(probability: probability, factorRange.lowerBound >= 0, "factor ≥ 0")
        self.probability = probability
        self.factorRange = factorRange
    }

    /// Draws the factor and applies it.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        guard let factor = rng.draw(probability: probability, in: factorRange) else { return sample }
        let x = sample.image.physicalFloats()
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(max(1, x.count))
        let lo = x.min() ?? 0, hi = x.max() ?? 0
        return try sample.withImageValues(x.map { v in min(hi, max(lo, Float((Double(v) - mean) * factor + mean))) })
    }
}

/// A smooth multiplicative bias field, MONAI's `RandBiasField`: `x · exp(Σ c_abc · P_a(u)·P_b(v)·P_c(w))`
/// over Legendre polynomials of total degree ≤ `degree` in coordinates normalised to [−1, 1], coefficients
/// drawn from ±`coefficientRange`. Labels untouched. Output float32.
public struct RandomBiasField: Codable, Sendable, Equatable {
    public var probability: Double
    public var degree: Int
    public var coefficientRange: Double

    /// Creates the augmentation.
    public init(probability: Double = 0.5, degree: Int = 3, coefficientRange: Double = 0.3) throws {
        try checkAugmentation(probability: probability, (1...6).contains(degree) && coefficientRange >= 0,
                              "degree in 1…6 and the coefficient range ≥ 0")
        self.probability = probability
        self.degree = degree
        self.coefficientRange = coefficientRange
    }

    static func legendre(_ n: Int, _ x: Double) -> Double {
        var p0 = 1.0, p1 = x
        if n == 0 { return p0 }
        for k in 1..<n { let p2 = (Double(2 * k + 1) * x * p1 - Double(k) * p0) / Double(k + 1); p0 = p1; p1 = p2 }
        return p1
    }

    /// Draws the coefficients and multiplies the field in.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        var terms: [(Int, Int, Int, Double)] = []
        for a in 0...degree { for b in 0...(degree - a) { for c in 0...(degree - a - b) {
            terms.append((a, b, c, rng.uniform(-coefficientRange...coefficientRange)))
        } } }
        guard happens else { return sample }
        let s = sample.image.geometry.size
        func coords(_ n: Int) -> [Double] { (0..<n).map { n > 1 ? -1 + 2 * Double($0) / Double(n - 1) : 0 } }
        let (u, v, w) = (coords(s.x), coords(s.y), coords(s.z))
        let x = sample.image.physicalFloats()
        let frame = s.x * s.y * s.z
        var values = [Float](repeating: 0, count: x.count)
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x {
            var log = 0.0
            for (a, b, c, coefficient) in terms {
                log += coefficient * Self.legendre(a, u[i]) * Self.legendre(b, v[j]) * Self.legendre(c, w[k])
            }
            let field = Math.exp(log)
            var n = i + s.x * (j + s.y * k)
            while n < x.count { values[n] = Float(Double(x[n]) * field); n += frame }
        } } }
        return try sample.withImageValues(values)
    }
}

/// Simulates a lower resolution: the image is resampled (nearest) to spacing × a factor from
/// `factorRange`, then linearly back onto its own grid. Labels untouched. Output float32.
public struct RandomLowResolution: Codable, Sendable, Equatable {
    public var probability: Double
    public var factorRange: ClosedRange<Double>

    /// Creates the augmentation; factors ≥ 1 coarsen.
    public init(probability: Double = 0.5, factorRange: ClosedRange<Double> = 1...2) throws {
        try checkAugmentation(probability: probability, factorRange.lowerBound > 0, "factor > 0")
        self.probability = probability
        self.factorRange = factorRange
    }

    /// Draws the factor and degrades the image.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        guard let factor = rng.draw(probability: probability, in: factorRange) else { return sample }
        let g = sample.image.geometry
        let coarse = try Resample(spacing: [g.spacing.x * factor, g.spacing.y * factor, g.spacing.z * factor], interpolation: .nearest)
            .apply(sample.image).volume
        let back = try ResampleToGrid(target: g, interpolation: .linear).apply(coarse)
        return try sample.withImage(back)
    }
}
