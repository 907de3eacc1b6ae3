/// Errors raised when building or reshaping volumes in memory.
public enum VolumeError: Error, Equatable, CustomStringConvertible {
    /// The voxel array holds a different number of voxels than the shape asks for.
    case voxelCountMismatch(expected: Int, actual: Int)
    /// A dimension is zero or negative.
    case invalidSize(String)
    /// A label map needs an integer voxel type.
    case labelMapNeedsIntegerType(VoxelType)

    public var description: String {
        switch self {
        case .voxelCountMismatch(let e, let a): return "voxel count mismatch: shape needs \(e) voxels, array has \(a)"
        case .invalidSize(let s): return "invalid size: \(s)"
        case .labelMapNeedsIntegerType(let t): return "a label map needs an integer voxel type, not \(t)"
        }
    }
}
