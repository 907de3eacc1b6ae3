import CBLAS
import Dispatch
import VoxelCore
import VoxelSupport

/// Single-precision matrix multiply on OpenBLAS: `C = alpha * A × B + beta * C`.
///
/// Matrices are row-major: `a` is `m × k`, `b` is `k × n`, `c` is `m × n`. This is the one place the
/// convolution kernels reach BLAS; everything above it stays in Swift.
///
/// OpenBLAS runs single-threaded: the engine spreads work over the cores itself (blocks of a convolution,
/// or column ranges in `parallelMultiply`), which keeps BLAS threads from spinning and waiting on each other.
public enum GEMM {
    /// Sets OpenBLAS to one thread and keeps freed memory for reuse (`MemoryAdvice.retainFreedMemory`), once.
    private static let setUp: Void = {
        openblas_set_num_threads(1)
        MemoryAdvice.retainFreedMemory()
    }()

    /// Worker threads the kernels use: the calling thread's `ComputeBudget` (one per core unless a runner
    /// shares the cores between cases). Reading it (the engine's first use) does the one-time set-up.
    static var workers: Int {
        _ = setUp
        return ComputeBudget.threads
    }

    /// Computes `c = alpha * a × b + beta * c` for row-major Float matrices.
    /// - Precondition: `a.count == m * k`, `b.count == k * n`, `c.count == m * n`.
    public static func multiply(m: Int, n: Int, k: Int, a: [Float], b: [Float], c: inout [Float],
                                alpha: Float = 1, beta: Float = 0) {
        precondition(a.count == m * k && b.count == k * n && c.count == m * n, "GEMM: matrix sizes do not match m, n, k")
        _ = workers
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
        _ = workers
        guard m > 0, n > 0, k > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `multiply` with the columns of C split across the cores (each part a single-threaded sgemm).
    static func parallelMultiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                                 b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
        let parts = n >= 256 ? workers : 1
        if parts == 1 && workers > 1 && m >= 64 * workers && m * n * k >= 1 << 20 {
            // Few columns but many rows (a small volume with many channels): split the rows instead.
            let chunk = (m + workers - 1) / workers
            let ap = Shared(a), bp = Shared(b), cp = Shared(c)
            Parallel.perform(workers) { part in
                let start = part * chunk, end = min(m, start + chunk)
                guard start < end else { return }
                let aStart = transposeA ? ap.value + start : ap.value + start * lda
                multiply(m: end - start, n: n, k: k, a: aStart, lda: lda, transposeA: transposeA, b: bp.value, ldb: ldb,
                         c: cp.value + start * ldc, ldc: ldc, beta: beta)
            }
            return
        }
        guard parts > 1 else {
            multiply(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, c: c, ldc: ldc, beta: beta)
            return
        }
        let chunk = ((n + parts - 1) / parts + 15) / 16 * 16
        let ap = Shared(a), bp = Shared(b), cp = Shared(c)
        Parallel.perform(parts) { part in
            let start = part * chunk, end = min(n, start + chunk)
            guard start < end else { return }
            multiply(m: m, n: end - start, k: k, a: ap.value, lda: lda, transposeA: transposeA, b: bp.value + start, ldb: ldb,
                     c: cp.value + start, ldc: ldc, beta: beta)
        }
    }
}
