import CBLAS

/// Single-precision matrix multiply on OpenBLAS: `C = alpha * A × B + beta * C`.
///
/// Matrices are row-major: `a` is `m × k`, `b` is `k × n`, `c` is `m × n`. This is the one place the
/// convolution kernels reach BLAS; everything above it stays in Swift.
public enum GEMM {
    /// Computes `c = alpha * a × b + beta * c` for row-major Float matrices.
    /// - Precondition: `a.count == m * k`, `b.count == k * n`, `c.count == m * n`.
    public static func multiply(m: Int, n: Int, k: Int, a: [Float], b: [Float], c: inout [Float],
                                alpha: Float = 1, beta: Float = 0) {
        precondition(a.count == m * k && b.count == k * n && c.count == m * n, "GEMM: matrix sizes do not match m, n, k")
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in c.indices { c[i] *= beta }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                                alpha, pa.baseAddress, Int32(k), pb.baseAddress, Int32(n), beta, pc.baseAddress, Int32(n))
                }
            }
        }
    }
}

extension GEMM {
    /// `C = alpha · op(A) × op(B) + beta · C` on raw row-major buffers with leading dimensions, for the
    /// convolution kernels (blocks of larger matrices). Pointers must not escape the caller's closure.
    static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                         b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                         c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0, k > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
