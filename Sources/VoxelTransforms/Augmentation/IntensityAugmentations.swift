import VoxelCore

/// Gamma contrast with γ drawn from `gammaRange`, with probability `probability`; labels untouched.
/// MONAI's `AdjustContrast`: `((x − min) / (range + ε))^γ · range + min`, ε = 1e-7. Output float32.
public struct RandomGamma: Codable, Sendable, Equatable {
    public var probability: Double
    public var gammaRange: ClosedRange<Double>

    /// Creates the augmentation; γ must stay positive.
    public init(probability: Double = 0.5, gammaRange: ClosedRange<Double> = 0.7...1.5) throws {
        guard (0...1).contains(probability), gammaRange.lowerBound > 0 else {
            throw TransformError.invalidParameter("probability must be in 0…1 and γ > 0")
        }
        self.probability = probability
        self.gammaRange = gammaRange
    }

    /// Draws and applies γ.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        let gamma = rng.uniform(gammaRange)
        guard happens else { return sample }
        let x = sample.image.physicalFloats()
        let lo = Double(x.min() ?? 0), range = Double(x.max() ?? 0) - lo
        let values = x.map { v in Float(Math.pow((Double(v) - lo) / (range + 1e-7), gamma) * range + lo) }
        return try AugmentationSample(image: sample.image.replacingVoxels(with: .float32(values)), label: sample.label)
    }
}

/// Additive Gaussian noise (mean 0, standard deviation drawn from `stdRange`), with probability
/// `probability`; labels untouched. Output float32.
public struct RandomGaussianNoise: Codable, Sendable, Equatable {
    public var probability: Double
    public var stdRange: ClosedRange<Double>

    /// Creates the augmentation.
    public init(probability: Double = 0.5, stdRange: ClosedRange<Double> = 0...0.1) throws {
        guard (0...1).contains(probability), stdRange.lowerBound >= 0 else {
            throw TransformError.invalidParameter("probability must be in 0…1 and the standard deviation ≥ 0")
        }
        self.probability = probability
        self.stdRange = stdRange
    }

    /// Draws and adds the noise.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        let std = rng.uniform(stdRange)
        guard happens else { return sample }
        let values = sample.image.physicalFloats().map { $0 + Float(std * rng.normal()) }
        return try AugmentationSample(image: sample.image.replacingVoxels(with: .float32(values)), label: sample.label)
    }
}
