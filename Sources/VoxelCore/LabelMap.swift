/// A segmentation: integer labels on a grid, 0 meaning background.
///
/// A separate type from `Volume` so that code can tell labels from intensities: label maps are always
/// resampled nearest-neighbour and are never touched by intensity transforms. Labels are stored unscaled.
public struct LabelMap: Sendable, Equatable {
    /// The underlying single-time-point volume (integer voxel type, identity scaling).
    public private(set) var volume: Volume

    /// Wraps a volume as a label map.
    /// - Throws: `VolumeError.labelMapNeedsIntegerType` for float or colour voxels; `invalidSize` for 4D input.
    public init(_ volume: Volume) throws {
        guard volume.voxelType.isInteger else { throw VolumeError.labelMapNeedsIntegerType(volume.voxelType) }
        guard volume.timePoints == 1 else { throw VolumeError.invalidSize("a label map is 3D, got \(volume.timePoints) time points") }
        var v = volume
        if !v.scaling.isIdentity {
            // Labels are identities, not measurements: a scaled integer file is not a label map.
            throw VolumeError.invalidSize("a label map cannot carry an intensity scaling (slope \(v.scaling.slope), intercept \(v.scaling.intercept))")
        }
        v.scaling = .identity
        self.volume = v
    }

    /// The grid the labels live on.
    public var geometry: Geometry { volume.geometry }

    /// Label of voxel `(i, j, k)`.
    public func label(_ i: Int, _ j: Int, _ k: Int) -> Int {
        Int(volume.voxels.value(at: volume.linearIndex(i, j, k)))
    }

    /// Distinct labels present, ascending, including 0 when present.
    public func labelsPresent() -> [Int] {
        // 8- and 16-bit labels (nearly every label map) are counted in a flag table, one pass, no hashing.
        func flagged<T: FixedWidthInteger>(_ values: [T], offset: Int, count: Int) -> [Int] {
            var seen = [Bool](repeating: false, count: count)
            values.withUnsafeBufferPointer { for v in $0 { seen[Int(v) + offset] = true } }
            return seen.indices.filter { seen[$0] }.map { $0 - offset }
        }
        switch volume.voxels {
        case .uint8(let v): return flagged(v, offset: 0, count: 256)
        case .int8(let v): return flagged(v, offset: 128, count: 256)
        case .uint16(let v): return flagged(v, offset: 0, count: 65536)
        case .int16(let v): return flagged(v, offset: 32768, count: 65536)
        default:
            var seen = Set<Int>()
            for n in 0..<volume.voxels.count { seen.insert(Int(volume.voxels.value(at: n))) }
            return seen.sorted()
        }
    }
}
