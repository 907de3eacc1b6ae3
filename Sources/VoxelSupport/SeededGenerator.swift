import Foundation

/// A small, fast, portable random generator (SplitMix64): the same seed gives the same sequence on every
/// machine and Swift version, so augmentations and dropout are reproducible from their seed alone.
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
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}
