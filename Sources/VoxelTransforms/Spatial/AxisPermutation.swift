import VoxelCore

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
        let voxels = volume.voxels.gathered(count: count * t) { n in
            let time = n / count, r = n % count
            let i = r % out[0], j = (r / out[0]) % out[1], k = r / (out[0] * out[1])
            return time * frame + start + i * step[0] + j * step[1] + k * step[2]
        }
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
}
