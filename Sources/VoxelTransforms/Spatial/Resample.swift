#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import VoxelCore

/// How values between voxel centres are computed.
public enum Interpolation: String, Codable, Sendable, CaseIterable {
    /// The nearest voxel (half-integers round up, as ITK). Label maps always use this.
    case nearest
    /// Trilinear.
    case linear
}

/// Resamples a volume onto another grid by following every output voxel centre back to the input.
///
/// Boundary rule (ITK's): a point is inside when its continuous index lies in [−0.5, n − 0.5) on every
/// axis; neighbours beyond the edge take the edge voxel. Outside points get `fill` (physical units).
/// Nearest keeps the stored type and scaling (so labels stay labels); linear gives float32 physical values.
/// Work is split over slabs of the output on all cores; no per-voxel allocation.
public struct ResampleToGrid: Codable, Sendable, Equatable {
    /// The output grid (LPS).
    public var target: Geometry
    /// Interpolation.
    public var interpolation: Interpolation
    /// Value of output voxels outside the input, physical units.
    public var fill: Double

    /// Creates the transform.
    public init(target: Geometry, interpolation: Interpolation = .linear, fill: Double = 0) {
        self.target = target
        self.interpolation = interpolation
        self.fill = fill
    }

    /// Resamples a 3D volume (4D volumes: every time point).
    public func apply(_ volume: Volume) throws -> Volume {
        guard let toInput = volume.geometry.affine.inverse else {
            throw TransformError.incompatibleVolume("the input grid's affine is singular")
        }
        let map = toInput * target.affine  // output index -> input continuous index
        let out = target.size, input = volume.geometry.size
        let frameOut = out.x * out.y * out.z, frameIn = input.x * input.y * input.z
        let t = volume.timePoints
        let m = map.linear, o = map.translation
        let colX = m.column(0), colY = m.column(1), colZ = m.column(2)
        let limit = SIMD3<Double>(Double(input.x) - 0.5, Double(input.y) - 0.5, Double(input.z) - 0.5)
        let threads = max(1, System.threads)

        /// Visits every output voxel with its input continuous index, slab by slab in parallel.
        func forEachVoxel(_ body: @escaping @Sendable (_ n: Int, _ p: SIMD3<Double>) -> Void) {
            let slabs = out.z * t
            let chunks = min(threads * 4, max(1, slabs))
            let per = (slabs + chunks - 1) / chunks
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let first = min(slabs, chunk * per), last = min(slabs, first + per)
                for s in first..<last {
                    let time = s / out.z, k = s % out.z
                    for j in 0..<out.y {
                        var p = o + colY * Double(j) + colZ * Double(k)
                        let row = time * frameOut + out.x * (j + out.y * k)
                        for i in 0..<out.x {
                            body(row + i, p)
                            p += colX
                        }
                    }
                }
            }
        }
        @Sendable func inside(_ p: SIMD3<Double>) -> Bool {
            p.x >= -0.5 && p.y >= -0.5 && p.z >= -0.5 && p.x < limit.x && p.y < limit.y && p.z < limit.z
        }

        switch interpolation {
        case .nearest:
            // Gather stored values; outside voxels get the stored equivalent of `fill`.
            var sources = [Int32](repeating: -1, count: frameOut * t)
            sources.withUnsafeMutableBufferPointer { buffer in
                let shared = SendableBuffer(buffer)
                forEachVoxel { n, p in
                    guard inside(p) else { return }
                    let i = Int((p.x + 0.5).rounded(.down)), j = Int((p.y + 0.5).rounded(.down)), k = Int((p.z + 0.5).rounded(.down))
                    shared.buffer[n] = Int32(truncatingIfNeeded: (n / frameOut) * frameIn + i + input.x * (j + input.y * k))
                }
            }
            guard frameIn * t < Int(Int32.max) else { throw TransformError.incompatibleVolume("volume too large for nearest resampling") }
            let storedFill = (fill - volume.scaling.intercept) / volume.scaling.slope
            let voxels = volume.voxels.gathered(count: frameOut * t, fill: storedFill) { sources[$0] >= 0 ? Int(sources[$0]) : nil }
            return try Volume(geometry: target, voxels: voxels, timePoints: t, timeStep: volume.timeStep,
                              scaling: volume.scaling, metadata: volume.metadata)
        case .linear:
            let physical = volume.physicalFloats()
            var values = [Float](repeating: Float(fill), count: frameOut * t)
            physical.withUnsafeBufferPointer { src in
                values.withUnsafeMutableBufferPointer { dst in
                    let source = SendableConstBuffer(src), destination = SendableBuffer(dst)
                    forEachVoxel { n, p in
                        guard inside(p) else { return }
                        let base = (n / frameOut) * frameIn
                        let fx = p.x.rounded(.down), fy = p.y.rounded(.down), fz = p.z.rounded(.down)
                        let wx = p.x - fx, wy = p.y - fy, wz = p.z - fz
                        let x0 = max(0, Int(fx)), y0 = max(0, Int(fy)), z0 = max(0, Int(fz))
                        let x1 = min(input.x - 1, Int(fx) + 1), y1 = min(input.y - 1, Int(fy) + 1), z1 = min(input.z - 1, Int(fz) + 1)
                        func v(_ i: Int, _ j: Int, _ k: Int) -> Double { Double(source.buffer[base + i + input.x * (j + input.y * k)]) }
                        let c00 = v(x0, y0, z0) + (v(x1, y0, z0) - v(x0, y0, z0)) * wx
                        let c10 = v(x0, y1, z0) + (v(x1, y1, z0) - v(x0, y1, z0)) * wx
                        let c01 = v(x0, y0, z1) + (v(x1, y0, z1) - v(x0, y0, z1)) * wx
                        let c11 = v(x0, y1, z1) + (v(x1, y1, z1) - v(x0, y1, z1)) * wx
                        let c0 = c00 + (c10 - c00) * wy, c1 = c01 + (c11 - c01) * wy
                        destination.buffer[n] = Float(c0 + (c1 - c0) * wz)
                    }
                }
            }
            return try Volume(geometry: target, voxels: .float32(values), timePoints: t, timeStep: volume.timeStep,
                              metadata: volume.metadata)
        }
    }
}

/// Resamples to a voxel spacing, keeping the origin, directions and physical extent
/// (size = round(n × old spacing / new spacing)). `apply` also returns the transform back to the original
/// grid, which lands on exactly the original dimensions and affine.
public struct Resample: Codable, Sendable, Equatable {
    /// Target spacing (mm) along i, j, k.
    public var spacing: [Double]
    /// Interpolation (label maps should use `.nearest`).
    public var interpolation: Interpolation

    /// Creates the transform; spacings must be positive.
    public init(spacing: [Double], interpolation: Interpolation = .linear) throws {
        guard spacing.count == 3, spacing.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TransformError.invalidParameter("spacing must be 3 positive numbers (mm), got \(spacing)")
        }
        self.spacing = spacing
        self.interpolation = interpolation
    }

    /// The output grid for an input grid.
    public func plan(for g: Geometry) -> Geometry {
        let size = (0..<3).map { c in max(1, Int((Double(g.size[c]) * g.spacing[c] / spacing[c]).rounded())) }
        return Geometry(size: SIMD3(size[0], size[1], size[2]), spacing: SIMD3(spacing[0], spacing[1], spacing[2]),
                        origin: g.origin, direction: g.direction)
    }

    /// Resampled volume and the transform back onto the input grid.
    public func apply(_ volume: Volume, fill: Double = 0) throws -> (volume: Volume, inverse: ResampleToGrid) {
        let forward = ResampleToGrid(target: plan(for: volume.geometry), interpolation: interpolation, fill: fill)
        return (try forward.apply(volume), ResampleToGrid(target: volume.geometry, interpolation: interpolation, fill: fill))
    }
}

/// A mutable buffer lent to concurrent workers that write disjoint elements.
struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}

/// A read-only buffer lent to concurrent workers.
struct SendableConstBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<T>
    init(_ buffer: UnsafeBufferPointer<T>) { self.buffer = buffer }
}

enum System {
    /// Worker threads: one per core.
    static var threads: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }
}
