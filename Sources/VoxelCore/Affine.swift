/// A 4×4 homogeneous affine transform, row-major, last row `0 0 0 1`.
///
/// In VoxelFlow an `Affine` maps a voxel index `(i, j, k)` to world coordinates `(x, y, z)` in millimetres,
/// in DICOM's LPS+ patient frame (x towards the patient's Left, y Posterior, z Superior) unless stated otherwise.
public struct Affine: Sendable, Equatable, Hashable, Codable {
    /// The 3×3 linear part (direction × spacing).
    public var linear: Matrix3
    /// The translation: the world position of voxel (0, 0, 0).
    public var translation: SIMD3<Double>

    /// Creates an affine from its linear part and translation.
    public init(linear: Matrix3, translation: SIMD3<Double>) {
        self.linear = linear
        self.translation = translation
    }

    /// Creates an affine from a row-major 4×4 matrix (the last row is ignored).
    public init(rows m: [[Double]]) {
        precondition(m.count >= 3 && m.allSatisfy { $0.count == 4 }, "Affine needs 3 or 4 rows of 4 values")
        linear = Matrix3(rows: [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]])
        translation = SIMD3(m[0][3], m[1][3], m[2][3])
    }

    /// The identity transform.
    public static let identity = Affine(linear: .identity, translation: .zero)

    /// The matrix as 4 rows of 4 values.
    public var rows: [[Double]] {
        (0..<3).map { r in [linear[r, 0], linear[r, 1], linear[r, 2], translation[r]] } + [[0, 0, 0, 1]]
    }

    /// Applies the transform to a point.
    public func apply(_ p: SIMD3<Double>) -> SIMD3<Double> { linear * p + translation }

    /// The inverse transform, or nil when the linear part is singular.
    public var inverse: Affine? {
        guard let inv = linear.inverse else { return nil }
        return Affine(linear: inv, translation: -(inv * translation))
    }

    /// Composition: `(a * b).apply(p) == a.apply(b.apply(p))`.
    public static func * (a: Affine, b: Affine) -> Affine {
        Affine(linear: a.linear * b.linear, translation: a.linear * b.translation + a.translation)
    }

    /// Converts between LPS+ and RAS+ world frames (the same operation in both directions: x and y negate).
    public var flippingLPSandRAS: Affine {
        let flip = Affine(linear: Matrix3(rows: [-1, 0, 0, 0, -1, 0, 0, 0, 1]), translation: .zero)
        return flip * self
    }

    /// Largest absolute difference between corresponding elements of two affines.
    public func maxAbsDifference(to other: Affine) -> Double {
        var d = 0.0
        for n in 0..<9 { d = max(d, abs(linear.values[n] - other.linear.values[n])) }
        for n in 0..<3 { d = max(d, abs(translation[n] - other.translation[n])) }
        return d
    }
}
