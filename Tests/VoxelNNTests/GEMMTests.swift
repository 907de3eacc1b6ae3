import Testing
import VoxelNN

@Suite("GEMM on OpenBLAS")
struct GEMMTests {
    @Test("sgemm matches a naive triple loop", arguments: [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 48, 80)])
    func matchesNaive(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = (0..<(m * k)).map { Float(($0 * 7) % 13) / 13 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 5) % 11) / 11 - 0.5 }
        var c = [Float](repeating: 1, count: m * n)
        GEMM.multiply(m: m, n: n, k: k, a: a, b: b, c: &c, alpha: 2, beta: 0.5)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
                let expected = 2 * sum + 0.5
                #expect(abs(Double(c[i * n + j]) - expected) <= 1e-4 * max(1, abs(expected)))
            }
        }
    }
}
