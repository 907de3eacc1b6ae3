/// Where a voxel grid sits in the patient: size, spacing, origin and axis directions.
///
/// World coordinates are millimetres in DICOM's LPS+ frame (x → patient Left, y → Posterior, z → Superior).
/// Voxel `(i, j, k)` sits at `origin + direction * (spacing ⊙ (i, j, k))`: column `c` of `direction` is the
/// unit vector along which index `c` increases. `affine` is the same mapping as one 4×4 matrix.
public struct Geometry: Sendable, Equatable, Hashable, Codable {
    /// Voxels along i, j, k (x, y, z of the grid).
    public var size: SIMD3<Int>
    /// Distance between voxel centres along i, j, k, in mm (always positive).
    public var spacing: SIMD3<Double>
    /// World position (LPS mm) of the centre of voxel (0, 0, 0).
    public var origin: SIMD3<Double>
    /// Unit axis directions as columns (LPS). Orthonormal for scanner data; a sheared affine keeps its shear here.
    public var direction: Matrix3

    /// Creates a geometry from its parts.
    public init(size: SIMD3<Int>, spacing: SIMD3<Double>, origin: SIMD3<Double> = .zero, direction: Matrix3 = .identity) {
        self.size = size
        self.spacing = spacing
        self.origin = origin
        self.direction = direction
    }

    /// Creates a geometry from a voxel-to-LPS affine, splitting its columns into spacing × unit direction.
    /// A zero-length column (degenerate affine) gets spacing 1 and keeps its zero direction.
    public init(size: SIMD3<Int>, affine: Affine) {
        var spacing = SIMD3<Double>(1, 1, 1)
        var columns: [SIMD3<Double>] = []
        for c in 0..<3 {
            let col = affine.linear.column(c)
            let norm = (col * col).sum().squareRoot()
            if norm > 0 && norm.isFinite {
                spacing[c] = norm
                columns.append(col / norm)
            } else {
                columns.append(col)
            }
        }
        self.init(size: size, spacing: spacing, origin: affine.translation,
                  direction: Matrix3(columns: columns[0], columns[1], columns[2]))
    }

    /// The voxel-index → LPS-mm affine.
    public var affine: Affine {
        let d = direction
        let s = spacing
        let linear = Matrix3(rows: [
            d[0, 0] * s.x, d[0, 1] * s.y, d[0, 2] * s.z,
            d[1, 0] * s.x, d[1, 1] * s.y, d[1, 2] * s.z,
            d[2, 0] * s.x, d[2, 1] * s.y, d[2, 2] * s.z,
        ])
        return Affine(linear: linear, translation: origin)
    }

    /// Number of voxels in the grid.
    public var voxelCount: Int { size.x * size.y * size.z }

    /// World position (LPS mm) of a (possibly fractional) voxel index.
    public func worldPoint(atIndex index: SIMD3<Double>) -> SIMD3<Double> { affine.apply(index) }

    /// Fractional voxel index of a world point (LPS mm), or nil when the affine is singular.
    public func continuousIndex(ofWorldPoint point: SIMD3<Double>) -> SIMD3<Double>? {
        affine.inverse?.apply(point)
    }
}
