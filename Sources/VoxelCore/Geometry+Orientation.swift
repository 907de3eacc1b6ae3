extension Geometry {
    /// Three letters naming where each voxel axis points, nibabel-style: for i, j and k in turn, the
    /// patient direction (R/L, A/P, S/I) closest to the way the index increases.
    /// A standard DICOM axial grid (i → Left, j → Posterior, k → Superior) is "LPS"; NIfTI's canonical
    /// grid is "RAS". An axis with no direction (all zero) is "?".
    public var orientationCode: String {
        Geometry.orientationCode(of: direction)
    }

    /// The orientation code of a 3×3 direction (or linear) matrix in LPS; see `orientationCode`.
    ///
    /// Axes are assigned greedily by the largest absolute component, so two voxel axes never share a
    /// world axis even for oblique grids.
    public static func orientationCode(of m: Matrix3) -> String {
        var used = Set<Int>()
        var letters = [Character](repeating: "?", count: 3)
        // Visit (voxel axis, world axis) pairs by decreasing magnitude.
        var pairs: [(mag: Double, voxel: Int, world: Int)] = []
        for v in 0..<3 {
            for w in 0..<3 {
                pairs.append((abs(m[w, v]), v, w))
            }
        }
        pairs.sort { $0.mag > $1.mag }
        var assigned = Set<Int>()
        for p in pairs where p.mag > 0 && !used.contains(p.world) && !assigned.contains(p.voxel) {
            used.insert(p.world)
            assigned.insert(p.voxel)
            let positive = m[p.world, p.voxel] > 0
            switch p.world {
            case 0: letters[p.voxel] = positive ? "L" : "R"
            case 1: letters[p.voxel] = positive ? "P" : "A"
            default: letters[p.voxel] = positive ? "S" : "I"
            }
        }
        return String(letters)
    }

    /// True when the axes are not aligned with the patient axes (any direction column off-axis by more
    /// than `tolerance` in cosine).
    public func isOblique(tolerance: Double = 1e-4) -> Bool {
        for c in 0..<3 {
            let col = direction.column(c)
            let largest = max(abs(col.x), abs(col.y), abs(col.z))
            if abs(largest - 1) > tolerance { return true }
        }
        return false
    }
}
