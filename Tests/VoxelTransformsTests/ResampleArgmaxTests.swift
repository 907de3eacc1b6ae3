import Foundation
import Testing
import VoxelCore
import VoxelSupport
import VoxelTransforms

/// `ResampleToGrid.linearArgmax` against its definition: every channel resampled linearly (`apply`), then the
/// per-voxel argmax.
@Suite("Argmax of linearly resampled channels")
struct ResampleArgmaxTests {
    /// Random channel values (channels fastest) on `grid`, and the same as a channel-first volume.
    static func values(_ grid: Geometry, channels: Int, seed: UInt64, smooth: Bool) throws -> ([Float], Volume) {
        var generator = SeededGenerator(seed: seed)
        let n = grid.voxelCount
        var last = [Float](repeating: 0, count: n * channels)
        for v in 0..<n {
            for c in 0..<channels {
                // Smooth fields make many voxels share their top channels (the fast path); noise makes them differ.
                let x = Double(v % grid.size.x), z = Double(v / (grid.size.x * grid.size.y))
                last[v * channels + c] = smooth ? Float(sin(x * 0.3 + Double(c)) + cos(z * 0.2 * Double(c + 1)) + 0.05 * generator.unit())
                                                : Float(generator.unit())
            }
        }
        var first = [Float](repeating: 0, count: n * channels)
        for v in 0..<n { for c in 0..<channels { first[c * n + v] = last[v * channels + c] } }
        return (last, try Volume(geometry: grid, voxels: .float32(first), timePoints: channels))
    }

    @Test("the same channel as resampling every channel and taking the argmax; outside the source: channel 0, score 0",
          arguments: [(12, 4, true), (12, 1, false), (40, 4, false), (3, 4, true)])
    func matchesDefinition(_ channels: Int, _ candidates: Int, _ smooth: Bool) throws {
        let source = Geometry(size: SIMD3(9, 7, 6), spacing: SIMD3(2, 2.5, 3), origin: SIMD3(1, -2, 3))
        // An oblique, finer target that also reaches outside the source.
        let angle = 0.3
        let rotation = Matrix3(rows: [cos(angle), -sin(angle), 0, sin(angle), cos(angle), 0, 0, 0, 1])
        let target = Geometry(size: SIMD3(23, 19, 17), spacing: SIMD3(0.9, 1.1, 1.2), origin: SIMD3(-1, -4, 2), direction: rotation)
        let (last, volume) = try Self.values(source, channels: channels, seed: 11, smooth: smooth)
        let resample = ResampleToGrid(target: target, interpolation: .linear, fill: 0)
        let (winner, score) = try resample.linearArgmax(last, channels: channels, source: source, candidates: candidates)
        let all = try resample.apply(volume).physicalFloats()
        let n = target.voxelCount
        var outside = 0
        for v in 0..<n {
            var best = all[v], expected = 0
            for c in 1..<channels where all[c * n + v] > best { best = all[c * n + v]; expected = c }
            #expect(Int(winner[v]) == expected, "voxel \(v)")
            #expect(abs(score[v] - best) <= 1e-5, "voxel \(v): \(score[v]) vs \(best)")
            if (0..<channels).allSatisfy({ all[$0 * n + v] == 0 }) { outside += 1 }
        }
        #expect(outside > 0 && outside < n, "the target should reach both inside and outside the source")
    }

    @Test("a value count that does not fit the grid is an error")
    func wrongCount() throws {
        let source = Geometry(size: SIMD3(2, 2, 2), spacing: SIMD3(1, 1, 1))
        #expect(throws: TransformError.self) {
            try ResampleToGrid(target: source).linearArgmax([Float](repeating: 0, count: 7), channels: 2, source: source)
        }
    }
}
