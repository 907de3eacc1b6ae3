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
    static func percentile<T: BinaryFloatingPoint>(_ sorted: [T], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = q / 100 * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(sorted.count - 1, lo + 1)
        let a = Double(sorted[lo]), b = Double(sorted[hi])
        return a + (b - a) * (position - Double(lo))
    }

    /// Applies the normalisation; `mask` (same grid) selects the foreground.
    public func apply(_ volume: Volume, mask: LabelMap? = nil) throws -> Volume {
        if let mask, mask.geometry.size != volume.geometry.size {
            throw TransformError.incompatibleVolume("the mask grid \(mask.geometry.size) differs from the image's \(volume.geometry.size)")
        }
        var x = volume.physicalFloats()
        // One sorted float copy of the foreground is the only other full-size array.
        var sorted: [Float]
        if let mask {
            let m = mask.volume.voxels
            sorted = []
            for n in 0..<x.count where m.value(at: n % m.count) != 0 { sorted.append(x[n]) }
        } else {
            sorted = x
        }
        sorted.sort()
        let lo = Self.percentile(sorted, lower), hi = Self.percentile(sorted, upper)
        var sum = 0.0
        for v in sorted { sum += min(hi, max(lo, Double(v))) }
        let mean = sum / Double(max(1, sorted.count))
        var squares = 0.0
        for v in sorted { let d = min(hi, max(lo, Double(v))) - mean; squares += d * d }
        var std = (squares / Double(max(1, sorted.count))).squareRoot()
        if std == 0 { std = 1 }
        sorted = []
        for n in 0..<x.count { x[n] = Float((min(hi, max(lo, Double(x[n]))) - mean) / std) }
        let values = x
        return try volume.replacingVoxels(with: .float32(values))
    }
}
