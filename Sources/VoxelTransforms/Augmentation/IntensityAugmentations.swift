import VoxelCore
import VoxelSupport

/// Gamma contrast with γ drawn from `gammaRange`, with probability `probability`; labels untouched.
/// MONAI's `AdjustContrast`: `((x − min) / (range + ε))^γ · range + min`, ε = 1e-7. Output float32.
public struct RandomGamma: Codable, Sendable, Equatable {
    public var probability: Double
    public var gammaRange: ClosedRange<Double>

    /// Creates the augmentation; γ must stay positive.
    public init(probability: Double = 0.5, gammaRange: ClosedRange<Double> = 0.7...1.5) throws {
        try checkAugmentation(probability: probability, gammaRange.lowerBound > 0, "γ > 0")
        self.probability = probability
        self.gammaRange = gammaRange
    }

    /// Draws and applies γ.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        guard let gamma = rng.draw(probability: probability, in: gammaRange) else { return sample }
        let x = sample.image.physicalFloats()
        let lo = Double(x.min() ?? 0), range = Double(x.max() ?? 0) - lo
        return try sample.withImageValues(x.map { v in Float(Math.pow((Double(v) - lo) / (range + 1e-7), gamma) * range + lo) })
    }
}

/// Additive Gaussian noise (mean 0, standard deviation drawn from `stdRange`), with probability
/// `probability`; labels untouched. Output float32.
public struct RandomGaussianNoise: Codable, Sendable, Equatable {
    public var probability: Double
    public var stdRange: ClosedRange<Double>

    /// Creates the augmentation.
    public init(probability: Double = 0.5, stdRange: ClosedRange<Double> = 0...0.1) throws {
        try checkAugmentation(probability: probability, stdRange.lowerBound >= 0, "the standard deviation ≥ 0")
        self.probability = probability
        self.stdRange = stdRange
    }

    /// Draws and adds the noise.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        guard let std = rng.draw(probability: probability, in: stdRange) else { return sample }
        return try sample.withImageValues(sample.image.physicalFloats().map { $0 + Float(std * rng.normal()) })
    }
}
