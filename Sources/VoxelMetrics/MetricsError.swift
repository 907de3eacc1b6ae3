import VoxelCore

/// Why two segmentations or two classification tables cannot be compared.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Prediction and reference are not on the same voxel grid (size, or the voxel-to-world mapping beyond 1e-3 mm).
    case gridMismatch(prediction: Geometry, reference: Geometry)
    /// An option is out of range (the option and the reason).
    case invalidOption(String)
    /// A classification table cannot be used (the reason, naming the case or class).
    case invalidClassification(String)

    /// The problem in words, naming both grids' sizes or the offending value.
    public var description: String {
        switch self {
        case let .gridMismatch(p, r):
            if p.size != r.size {
                return "prediction and reference are on different grids: \(p.size.x)×\(p.size.y)×\(p.size.z) voxels against "
                    + "\(r.size.x)×\(r.size.y)×\(r.size.z); resample the prediction onto the reference grid first"
            }
            let d = p.affine.maxAbsDifference(to: r.affine)
            return "prediction and reference have the same size but different voxel-to-world mappings (they differ by up to "
                + "\(d) mm); resample the prediction onto the reference grid first"
        case let .invalidOption(reason): return reason
        case let .invalidClassification(reason): return reason
        }
    }
}
