import VoxelCore

/// Z-score normalisation, MONAI's `NormalizeIntensity`: `(x − mean) / std` with the population standard
/// deviation; with `nonzero`, statistics come from, and only apply to, voxels that are not 0 (others stay 0).
/// A standard deviation of 0 divides by 1. Output float32.
public struct NormalizeIntensity: Codable, Sendable, Equatable {
    /// Use and change only non-zero voxels.
    public var nonzero: Bool

    /// Creates the transform.
    public init(nonzero: Bool = false) { self.nonzero = nonzero }

    /// Applies the normalisation.
    public func apply(_ volume: Volume) throws -> Volume {
        let x = volume.physicalFloats()
        var sum = 0.0, count = 0.0
        for v in x where !nonzero || v != 0 { sum += Double(v); count += 1 }
        guard count > 0 else { return try volume.replacingVoxels(with: .float32(x)) }
        let mean = sum / count
        var squares = 0.0
        for v in x where !nonzero || v != 0 { squares += (Double(v) - mean) * (Double(v) - mean) }
        var std = (squares / count).squareRoot()
        if std == 0 { std = 1 }
        let m = Float(mean), s = Float(std)
        return try volume.replacingVoxels(with: .float32(x.map { v in nonzero && v == 0 ? 0 : (v - m) / s }))
    }
}
