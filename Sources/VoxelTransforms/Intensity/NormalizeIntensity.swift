import VoxelCore

/// Z-score normalisation, MONAI's `NormalizeIntensity`: `(x − mean) / std` with the population standard
/// deviation; with `nonzero`, statistics come from, and only apply to, voxels that are not 0 (others stay 0).
/// With a mask (a label map on the same grid), statistics come from the mask's non-zero voxels only and
/// every voxel is normalised with them (nnU-Net's scheme for MR with a brain mask).
/// A standard deviation of 0 divides by 1. Output float32.
public struct NormalizeIntensity: Codable, Sendable, Equatable {
    /// Use and change only non-zero voxels.
    public var nonzero: Bool

    /// Creates the transform.
    public init(nonzero: Bool = false) { self.nonzero = nonzero }

    /// Applies the normalisation; with `mask`, statistics come from the mask's non-zero voxels.
    /// - Throws: `TransformError.incompatibleVolume` when the mask is on another grid size.
    public func apply(_ volume: Volume, mask: LabelMap? = nil) throws -> Volume {
        if let mask, mask.geometry.size != volume.geometry.size {
            throw TransformError.incompatibleVolume("the mask grid \(mask.geometry.size) differs from the image's \(volume.geometry.size)")
        }
        let x = volume.physicalFloats()
        let frame = volume.geometry.voxelCount
        func counts(_ n: Int, _ v: Float) -> Bool {
            if let mask { return mask.volume.voxels.value(at: n % frame) != 0 }
            return !nonzero || v != 0
        }
        var sum = 0.0, count = 0.0
        for (n, v) in x.enumerated() where counts(n, v) { sum += Double(v); count += 1 }
        guard count > 0 else { return try volume.replacingVoxels(with: .float32(x)) }
        let mean = sum / count
        var squares = 0.0
        for (n, v) in x.enumerated() where counts(n, v) { squares += (Double(v) - mean) * (Double(v) - mean) }
        var std = (squares / count).squareRoot()
        if std == 0 { std = 1 }
        let m = Float(mean), s = Float(std)
        return try volume.replacingVoxels(with: .float32(x.map { v in mask == nil && nonzero && v == 0 ? 0 : (v - m) / s }))
    }
}
