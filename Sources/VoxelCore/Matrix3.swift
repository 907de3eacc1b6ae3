/// A 3×3 matrix of Doubles, row-major. Used for voxel-axis directions and the linear part of affines.
public struct Matrix3: Sendable, Equatable, Hashable, Codable {
    /// Elements in row-major order: `values[3 * row + column]`.
    public var values: [Double]

    /// Creates a matrix from nine row-major values.
    public init(rows values: [Double]) {
        precondition(values.count == 9, "Matrix3 needs 9 values")
        self.values = values
    }

    /// Creates a matrix whose columns are the three vectors given.
    public init(columns c0: SIMD3<Double>, _ c1: SIMD3<Double>, _ c2: SIMD3<Double>) {
        values = [c0.x, c1.x, c2.x, c0.y, c1.y, c2.y, c0.z, c1.z, c2.z]
    }

    /// The identity matrix.
    public static let identity = Matrix3(rows: [1, 0, 0, 0, 1, 0, 0, 0, 1])

    /// Element at (`row`, `column`), both 0-based.
    public subscript(row: Int, column: Int) -> Double {
        get { values[3 * row + column] }
        set { values[3 * row + column] = newValue }
    }

    /// Column `c` as a vector.
    public func column(_ c: Int) -> SIMD3<Double> {
        SIMD3(values[c], values[3 + c], values[6 + c])
    }

    /// The determinant.
    public var determinant: Double {
        let m = values
        return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    }

    /// The inverse, or nil when the matrix is singular.
    public var inverse: Matrix3? {
        let d = determinant
        guard d != 0, d.isFinite else { return nil }
        let m = values
        let r: [Double] = [
            (m[4] * m[8] - m[5] * m[7]), -(m[1] * m[8] - m[2] * m[7]), (m[1] * m[5] - m[2] * m[4]),
            -(m[3] * m[8] - m[5] * m[6]), (m[0] * m[8] - m[2] * m[6]), -(m[0] * m[5] - m[2] * m[3]),
            (m[3] * m[7] - m[4] * m[6]), -(m[0] * m[7] - m[1] * m[6]), (m[0] * m[4] - m[1] * m[3]),
        ]
        return Matrix3(rows: r.map { $0 / d })
    }

    /// Matrix–vector product.
    public static func * (m: Matrix3, v: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(
            m[0, 0] * v.x + m[0, 1] * v.y + m[0, 2] * v.z,
            m[1, 0] * v.x + m[1, 1] * v.y + m[1, 2] * v.z,
            m[2, 0] * v.x + m[2, 1] * v.y + m[2, 2] * v.z
        )
    }

    /// Matrix–matrix product.
    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        var r = [Double](repeating: 0, count: 9)
        for i in 0..<3 {
            for j in 0..<3 {
                r[3 * i + j] = a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + a[i, 2] * b[2, j]
            }
        }
        return Matrix3(rows: r)
    }
}
