import Dispatch
import VoxelCore
import VoxelSupport

/// A pure re-indexing of a grid: output axis `c` runs along input axis `axes[c]`, reversed when `flips[c]`.
/// No interpolation: voxel values move, unchanged, and every voxel keeps its world position, so the
/// inverse (`inverse`) restores the original voxels and affine exactly.
public struct AxisPermutation: Codable, Sendable, Equatable {
    /// For each output axis, the input axis it takes (a permutation of 0, 1, 2).
    public var axes: [Int]
    /// For each output axis, whether the input axis is traversed backwards.
    public var flips: [Bool]
    /// Size of the input grid (needed to flip).
    public var inputSize: [Int]

    /// The identity on a grid of `size`.
    public static func identity(size: SIMD3<Int>) -> AxisPermutation {
        AxisPermutation(axes: [0, 1, 2], flips: [false, false, false], inputSize: [size.x, size.y, size.z])
    }

    /// The permutation that undoes this one.
    public var inverse: AxisPermutation {
        var axes = [0, 0, 0], flips = [false, false, false]
        for c in 0..<3 {
            axes[self.axes[c]] = c
            flips[self.axes[c]] = self.flips[c]
        }
        return AxisPermutation(axes: axes, flips: flips, inputSize: outputSize)
    }

    /// Output grid size.
    public var outputSize: [Int] { axes.map { inputSize[$0] } }

    /// Applies the permutation to a volume (all time points), keeping world positions.
    public func apply(_ volume: Volume) throws -> Volume {
        let g = volume.geometry
        guard [g.size.x, g.size.y, g.size.z] == inputSize else {
            throw TransformError.incompatibleVolume("grid \(g.size) is not the \(inputSize) this permutation was planned for")
        }
        let out = outputSize
        let nIn = inputSize, count = out[0] * out[1] * out[2]
        let t = volume.timePoints
        let inStride = [1, nIn[0], nIn[0] * nIn[1]]
        // For each output axis: the input offset of one step, and the input offset of output index 0.
        var step = [0, 0, 0], start = 0
        for c in 0..<3 {
            let a = axes[c]
            step[c] = flips[c] ? -inStride[a] : inStride[a]
            if flips[c] { start += (nIn[a] - 1) * inStride[a] }
        }
        let frame = nIn[0] * nIn[1] * nIn[2]
        let voxels = Self.permuted(volume.voxels, out: out, count: count, timePoints: t, frame: frame, start: start, step: step)
        // New geometry: column c is ± input column axes[c]; origin = world position of output voxel 0.
        let dir = g.direction
        let cols = (0..<3).map { c in dir.column(axes[c]) * (flips[c] ? -1.0 : 1.0) }
        var originIndex = SIMD3<Double>(0, 0, 0)
        for c in 0..<3 where flips[c] { originIndex[axes[c]] = Double(nIn[axes[c]] - 1) }
        let geometry = Geometry(size: SIMD3(out[0], out[1], out[2]),
                                spacing: SIMD3(g.spacing[axes[0]], g.spacing[axes[1]], g.spacing[axes[2]]),
                                origin: g.worldPoint(atIndex: originIndex),
                                direction: Matrix3(columns: cols[0], cols[1], cols[2]))
        return try Volume(geometry: geometry, voxels: voxels, timePoints: t, timeStep: volume.timeStep,
                          scaling: volume.scaling, metadata: volume.metadata)
    }

    /// Cache-blocked copy for permutations that move the input's fast axis away from the output's: the
    /// output is walked in tiles of output axis 0 × output axis `fast` (the one the input stores
    /// contiguously), so both the rows written and the input lines read stay in cache. Tiles of the
    /// remaining axis (and time) run on all cores.
    static func tiled<T>(_ d: Shared<UnsafeMutableBufferPointer<T>>, _ s: Shared<UnsafeBufferPointer<T>>, out: [Int], count: Int, timePoints t: Int,
                         frame: Int, start: Int, step: [Int], fast f: Int) {
        let g = f == 1 ? 2 : 1
        let outStride = [1, out[0], out[0] * out[1]]
        let tile = 64
        let planes = out[g] * t
        Parallel.perform(min(ComputeBudget.threads * 4, max(1, planes))) { chunk in
            let chunks = min(ComputeBudget.threads * 4, max(1, planes))
            let per = (planes + chunks - 1) / chunks
            let first = min(planes, chunk * per), last = min(planes, first + per)
            guard let to = d.value.baseAddress, let from = s.value.baseAddress else { return }
            for plane in first..<last {
                let time = plane / out[g], gi = plane % out[g]
                let outBase = time * count + gi * outStride[g]
                let inBase = time * frame + start + gi * step[g]
                for fb in stride(from: 0, to: out[f], by: tile) {
                    let fEnd = min(out[f], fb + tile)
                    for ib in stride(from: 0, to: out[0], by: tile) {
                        let iEnd = min(out[0], ib + tile)
                        for ff in fb..<fEnd {
                            let o = outBase + ff * outStride[f]
                            var index = inBase + ff * step[f] + ib * step[0]
                            for i in ib..<iEnd { (to + o + i).initialize(to: from[index]); index += step[0] }
                        }
                    }
                }
            }
        }
    }

    /// Row-wise copy: output rows are contiguous; the input is walked with the step of output axis 0
    /// (a plain memory copy when that step is +1). Slabs of the output run on all cores.
    static func permuted(_ voxels: VoxelArray, out: [Int], count: Int, timePoints t: Int, frame: Int, start: Int, step: [Int]) -> VoxelArray {
        func run<T>(_ a: [T]) -> [T] {
            [T](unsafeUninitializedCapacity: count * t) { buffer, initialized in
                guard buffer.baseAddress != nil else { return }
                MemoryAdvice.preferHugePages(UnsafeMutableRawBufferPointer(buffer))
                a.withUnsafeBufferPointer { source in
                    guard source.baseAddress != nil else { return }
                    let d = Shared(buffer), s = Shared(source)
                    if abs(step[0]) != 1, let f = [1, 2].first(where: { abs(step[$0]) == 1 }) {
                        tiled(d, s, out: out, count: count, timePoints: t, frame: frame, start: start, step: step, fast: f)
                        return
                    }
                    let slabs = out[2] * t
                    let chunks = min(ComputeBudget.threads * 4, max(1, slabs))
                    let per = (slabs + chunks - 1) / chunks
                    Parallel.perform(chunks) { chunk in
                        let first = min(slabs, chunk * per), last = min(slabs, first + per)
                        for slab in first..<last {
                            let time = slab / out[2], k = slab % out[2]
                            for j in 0..<out[1] {
                                let o = time * count + out[0] * (j + out[1] * k)
                                let i0 = time * frame + start + j * step[1] + k * step[2]
                                guard let to = d.value.baseAddress, let from = s.value.baseAddress else { continue }
                                if step[0] == 1 {
                                    (to + o).update(from: from + i0, count: out[0])
                                } else {
                                    var index = i0
                                    for i in 0..<out[0] { (to + o + i).initialize(to: from[index]); index += step[0] }
                                }
                            }
                        }
                    }
                }
                initialized = count * t
            }
        }
        switch voxels {
        case .uint8(let a): return .uint8(run(a))
        case .int8(let a): return .int8(run(a))
        case .uint16(let a): return .uint16(run(a))
        case .int16(let a): return .int16(run(a))
        case .int32(let a): return .int32(run(a))
        case .uint32(let a): return .uint32(run(a))
        case .float32(let a): return .float32(run(a))
        case .float64(let a): return .float64(run(a))
        case .rgb24(let a):
            // Three bytes per voxel: permute voxel indices, then copy the triplets.
            let n = count * t
            var outBytes = [UInt8](repeating: 0, count: n * 3)
            for idx in 0..<n {
                let time = idx / count, r = idx % count
                let i = r % out[0], j = (r / out[0]) % out[1], k = r / (out[0] * out[1])
                let from = time * frame + start + i * step[0] + j * step[1] + k * step[2]
                outBytes[3 * idx] = a[3 * from]; outBytes[3 * idx + 1] = a[3 * from + 1]; outBytes[3 * idx + 2] = a[3 * from + 2]
            }
            return .rgb24(outBytes)
        }
    }
}
