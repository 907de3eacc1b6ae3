import Testing
import VoxelMetrics
import VoxelSupport

@Suite("Euclidean distance transform")
struct DistanceTransformTests {
    /// Brute force: the squared distance from every voxel to every feature.
    static func bruteForce(_ features: [UInt8], _ size: SIMD3<Int>, _ spacing: SIMD3<Double>) -> [Double] {
        var points: [SIMD3<Double>] = []
        func point(_ n: Int) -> SIMD3<Double> {
            SIMD3(Double(n % size.x), Double((n / size.x) % size.y), Double(n / (size.x * size.y))) * spacing
        }
        for n in 0..<features.count where features[n] != 0 { points.append(point(n)) }
        return (0..<features.count).map { n in
            let p = point(n)
            return points.map { (($0 - p) * ($0 - p)).sum() }.min() ?? .infinity
        }
    }

    @Test("Exact against brute force on random sparse and dense features, anisotropic spacing, odd shapes",
          arguments: [(SIMD3(13, 9, 7), 0.02, UInt64(1)), (SIMD3(8, 17, 5), 0.3, 2), (SIMD3(1, 12, 10), 0.05, 3),
                      (SIMD3(11, 1, 1), 0.2, 4), (SIMD3(6, 6, 6), 0.0, 5)])
    func matchesBruteForce(size: SIMD3<Int>, density: Double, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let features = (0..<(size.x * size.y * size.z)).map { _ in Double.random(in: 0..<1, using: &rng) < density ? UInt8(1) : 0 }
        let spacing = SIMD3(0.7, 1.3, 2.9)
        let ours = EuclideanDistanceTransform.squaredDistances(features: features, size: size, spacing: spacing)
        let truth = Self.bruteForce(features, size, spacing)
        #expect(ours.count == truth.count)
        for n in 0..<ours.count {
            if truth[n].isInfinite { #expect(ours[n].isInfinite); continue }
            #expect(abs(ours[n] - truth[n]) <= 1e-9 * max(1, truth[n]), "voxel \(n): \(ours[n]) against \(truth[n])")
        }
    }

    @Test("Parallel and serial runs give identical distances")
    func threadsAgree() {
        let size = SIMD3(40, 33, 29)
        var rng = SeededGenerator(seed: 9)
        let features = (0..<(size.x * size.y * size.z)).map { _ in Double.random(in: 0..<1, using: &rng) < 0.001 ? UInt8(1) : 0 }
        let parallel = ComputeBudget.withThreads(4) { EuclideanDistanceTransform.squaredDistances(features: features, size: size, spacing: SIMD3(1, 1, 1.5)) }
        let serial = ComputeBudget.withThreads(1) { EuclideanDistanceTransform.squaredDistances(features: features, size: size, spacing: SIMD3(1, 1, 1.5)) }
        #expect(parallel == serial)
    }
}
