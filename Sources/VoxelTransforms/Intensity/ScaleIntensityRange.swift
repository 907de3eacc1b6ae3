import VoxelCore

/// Linear rescale of physical values from [aMin, aMax] to [bMin, bMax], optionally clipped — MONAI's
/// `ScaleIntensityRange`. A CT window of level L and width W is `aMin = L − W/2, aMax = L + W/2` onto
/// [0, 1] with clipping (`ctWindow`). Output is float32 with no scaling; label maps are not accepted.
public struct ScaleIntensityRange: Codable, Sendable, Equatable {
    public var aMin: Double
    public var aMax: Double
    public var bMin: Double
    public var bMax: Double
    /// Clip the output to [bMin, bMax].
    public var clip: Bool

    /// Creates the transform (all values in the volume's physical units, e.g. HU).
    public init(aMin: Double, aMax: Double, bMin: Double = 0, bMax: Double = 1, clip: Bool = true) {
        self.aMin = aMin
        self.aMax = aMax
        self.bMin = bMin
        self.bMax = bMax
        self.clip = clip
    }

    /// A CT window: level and width in HU, onto [0, 1], clipped.
    public static func ctWindow(level: Double, width: Double) throws -> ScaleIntensityRange {
        guard width > 0 else { throw TransformError.invalidParameter("window width must be > 0, got \(width)") }
        return ScaleIntensityRange(aMin: level - width / 2, aMax: level + width / 2)
    }

    /// Applies the rescale to every voxel.
    public func apply(_ volume: Volume) throws -> Volume {
        let span = Float(aMax - aMin)
        let a = Float(aMin), b0 = Float(bMin), bSpan = Float(bMax - bMin)
        let lo = Float(min(bMin, bMax)), hi = Float(max(bMin, bMax))
        let values = volume.physicalFloats().map { x -> Float in
            var v = span != 0 ? (x - a) / span : x - a
            v = v * bSpan + b0
            return clip ? min(hi, max(lo, v)) : v
        }
        return try volume.replacingVoxels(with: .float32(values))
    }
}

extension Volume {
    /// The same grid with new voxels and no scaling.
    func replacingVoxels(with newVoxels: VoxelArray) throws -> Volume {
        try Volume(geometry: geometry, voxels: newVoxels, timePoints: timePoints, timeStep: timeStep, scaling: .identity, metadata: metadata)
    }
}
