import VoxelCore

/// A small, fast, portable random generator (SplitMix64): the same seed gives the same sequence on every
/// machine and Swift version, so augmentations are reproducible from their seed alone.
public struct SeededGenerator: RandomNumberGenerator, Codable, Sendable, Equatable {
    /// The current state (the seed before the first draw).
    public private(set) var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) from 53 random bits (no platform-dependent conversion).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform Double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { range.lowerBound + (range.upperBound - range.lowerBound) * unit() }

    /// Draws whether an augmentation happens (chance `probability`), then its parameter from `range`. Both
    /// are always drawn, so the sequence does not depend on the outcome. nil when it does not happen.
    public mutating func draw(probability: Double, in range: ClosedRange<Double>) -> Double? {
        let happens = unit() < probability
        let value = uniform(range)
        return happens ? value : nil
    }

    /// A standard normal Double (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 0x1.0p-53), u2 = unit()
        return (-2 * Math.log(u1)).squareRoot() * Math.cos(2 * .pi * u2)
    }
}

/// An image with its optional label map: spatial augmentations move both with the same draw.
public struct AugmentationSample: Sendable {
    public var image: Volume
    public var label: LabelMap?

    /// Creates a sample; the label (when given) must share the image's grid size.
    public init(image: Volume, label: LabelMap? = nil) throws {
        if let label, label.geometry.size != image.geometry.size {
            throw TransformError.incompatibleVolume("label grid \(label.geometry.size) differs from image grid \(image.geometry.size)")
        }
        self.image = image
        self.label = label
    }

    /// The same sample with a new image on the same grid (intensity augmentations).
    func withImage(_ newImage: Volume) throws -> AugmentationSample {
        try AugmentationSample(image: newImage, label: label)
    }

    /// The same sample with the image's physical values replaced by `values` (float32).
    func withImageValues(_ values: [Float]) throws -> AugmentationSample {
        try withImage(image.replacingVoxels(with: .float32(values)))
    }
}

/// Checks the parameters every random augmentation shares.
func checkAugmentation(probability: Double, _ rangeIsValid: Bool, _ what: String) throws {
    guard (0...1).contains(probability), rangeIsValid else {
        throw TransformError.invalidParameter("probability must be in 0…1 and \(what)")
    }
}
