import VoxelCore

/// nnU-Net's CT normalisation: clip to the [lower, upper] percentiles of the foreground (voxels of `mask`
/// that are non-zero, or all voxels without a mask), then z-score with the foreground's mean and
/// population standard deviation. Percentiles use linear interpolation between order statistics (numpy's
/// default). Output float32.
public struct PercentileNormalize: Codable, Sendable, Equatable {
    /// Percentiles in 0…100 (nnU-Net: 0.5 and 99.5).
    public var lower: Double
    public var upper: Double

    /// Creates the transform.
    public init(lower: Double = 0.5, upper: Double = 99.5) throws {
        guard lower >= 0, upper <= 100, lower < upper else { throw TransformError.invalidParameter("percentiles must satisfy 0 ≤ lower < upper ≤ 100") }
        self.lower = lower
        self.upper = upper
    }

    /// The percentile `q` (0…100) of sorted values, numpy's linear method.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = q / 100 * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(sorted.count - 1, lo + 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
    }

    /// Applies the normalisation; `mask` (same grid) selects the foreground.
    public func apply(_ volume: Volume, mask: LabelMap? = nil) throws -> Volume {
        if let mask, mask.geometry.size != volume.geometry.size {
            throw TransformError.incompatibleVolume("the mask grid \(mask.geometry.size) differs from the image's \(volume.geometry.size)")
        }
        let x = volume.physicalFloats()
        let fg = mask.map { m in (0..<x.count).filter { m.volume.voxels.value(at: $0 % m.volume.voxels.count) != 0 }.map { Double(x[$0]) } }
            ?? x.map(Double.init)
        let sorted = fg.sorted()
        let lo = Self.percentile(sorted, lower), hi = Self.percentile(sorted, upper)
        let clipped = fg.map { min(hi, max(lo, $0)) }
        let mean = clipped.reduce(0, +) / Double(max(1, clipped.count))
        var std = (clipped.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, clipped.count))).squareRoot()
        if std == 0 { std = 1 }
        let values = x.map { Float((min(hi, max(lo, Double($0))) - mean) / std) }
        return try volume.replacingVoxels(with: .float32(values))
    }
}
