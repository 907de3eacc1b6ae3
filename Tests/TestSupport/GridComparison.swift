import VoxelCore

/// Compares two volumes voxel by voxel in world space: every voxel centre of `reference` must be a voxel
/// centre of `volume` (up to axis permutation and flips), and values are compared there.
public struct GridComparison {
    /// Largest deviation of the index mapping from a signed permutation with integer shift, in mm.
    public var affineError: Double
    /// Largest and mean |value difference| over the voxels both grids share.
    public var maxAbsDifference: Double
    public var meanAbsDifference: Double
    /// Voxels of `reference` that fall on `volume`'s grid.
    public var comparedVoxels: Int

    public init(_ volume: Volume, against reference: Volume) throws {
        guard let inverse = volume.geometry.affine.inverse else { throw VolumeError.invalidSize("singular affine") }
        let toVolume = inverse * reference.geometry.affine
        // toVolume maps reference indices to volume indices; it must be a signed permutation + integer shift.
        var perm = [Int](repeating: 0, count: 3), sign = [Double](repeating: 1, count: 3)
        var error = 0.0
        for c in 0..<3 {
            let col = toVolume.linear.column(c)
            let r = [abs(col.x), abs(col.y), abs(col.z)].enumerated().max { $0.element < $1.element }?.offset ?? 0
            perm[c] = r
            sign[c] = col[r] < 0 ? -1 : 1
            for k in 0..<3 where k != r { error = max(error, abs(col[k])) }
            error = max(error, abs(abs(col[r]) - 1))
        }
        let shift = toVolume.translation
        let s = volume.geometry.size, rs = reference.geometry.size
        // Express index error in mm via the smallest spacing.
        let t = SIMD3(shift.x.rounded(), shift.y.rounded(), shift.z.rounded())
        error = max(error, abs(shift.x - t.x), abs(shift.y - t.y), abs(shift.z - t.z))
        affineError = error * volume.geometry.spacing.max()
        var maxDiff = 0.0, sum = 0.0, count = 0
        for k in 0..<rs.z { for j in 0..<rs.y { for i in 0..<rs.x {
            let ref = [Double(i), Double(j), Double(k)]
            var idx = [t.x, t.y, t.z]
            for c in 0..<3 { idx[perm[c]] += sign[c] * ref[c] }
            let (a, b, cc) = (Int(idx[0]), Int(idx[1]), Int(idx[2]))
            guard a >= 0, b >= 0, cc >= 0, a < s.x, b < s.y, cc < s.z else { continue }
            let d = abs(volume.value(a, b, cc) - reference.value(i, j, k))
            maxDiff = max(maxDiff, d); sum += d; count += 1
        } } }
        maxAbsDifference = maxDiff
        meanAbsDifference = count > 0 ? sum / Double(count) : .infinity
        comparedVoxels = count
    }
}
