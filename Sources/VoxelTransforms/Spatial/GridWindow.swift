import VoxelCore

/// A box-shaped window on a grid: output voxel `(i, j, k)` is input voxel `(i, j, k) + offset`. Windows
/// inside the grid crop, windows reaching outside pad (with `fill`, in physical units). World positions
/// are kept, and `inverse` maps the result back onto the input grid exactly (voxels cropped away come
/// back as the fill value).
public struct GridWindow: Codable, Sendable, Equatable {
    /// Input index of output voxel (0, 0, 0); negative components pad before the grid.
    public var offset: [Int]
    /// Output grid size.
    public var size: [Int]
    /// Input grid size.
    public var inputSize: [Int]

    /// Creates a window; sizes must be positive.
    public init(offset: [Int], size: [Int], inputSize: [Int]) throws {
        guard offset.count == 3, size.count == 3, inputSize.count == 3, size.allSatisfy({ $0 > 0 }), inputSize.allSatisfy({ $0 > 0 }) else {
            throw TransformError.invalidParameter("a window needs 3 offsets and 3 positive sizes, got offset \(offset), size \(size)")
        }
        self.offset = offset
        self.size = size
        self.inputSize = inputSize
    }

    /// The window that takes the output grid back onto the input grid.
    public var inverse: GridWindow {
        // Sizes are positive by construction, so this cannot fail.
        (try? GridWindow(offset: offset.map { -$0 }, size: inputSize, inputSize: size)) ?? self
    }

    /// Applies the window; `fill` is the physical value (e.g. −1024 HU) given to voxels outside the input, or,
    /// with `replicatingEdges`, each such voxel takes the value of the nearest input voxel (PyTorch's "border").
    public func apply(_ volume: Volume, fill: Double = 0, replicatingEdges: Bool = false) throws -> Volume {
        let g = volume.geometry
        guard [g.size.x, g.size.y, g.size.z] == inputSize else {
            throw TransformError.incompatibleVolume("grid \(g.size) is not the \(inputSize) this window was planned for")
        }
        let n = size[0] * size[1] * size[2], frame = inputSize[0] * inputSize[1] * inputSize[2]
        let storedFill = (fill - volume.scaling.intercept) / volume.scaling.slope
        let voxels = volume.voxels.gathered(count: n * volume.timePoints, fill: storedFill) { idx in
            let t = idx / n, r = idx % n
            var i = r % size[0] + offset[0], j = (r / size[0]) % size[1] + offset[1], k = r / (size[0] * size[1]) + offset[2]
            if replicatingEdges {
                i = min(max(i, 0), inputSize[0] - 1)
                j = min(max(j, 0), inputSize[1] - 1)
                k = min(max(k, 0), inputSize[2] - 1)
            }
            guard i >= 0, j >= 0, k >= 0, i < inputSize[0], j < inputSize[1], k < inputSize[2] else { return nil }
            return t * frame + i + inputSize[0] * (j + inputSize[1] * k)
        }
        var geometry = g
        geometry.size = SIMD3(size[0], size[1], size[2])
        geometry.origin = g.worldPoint(atIndex: SIMD3(Double(offset[0]), Double(offset[1]), Double(offset[2])))
        return try Volume(geometry: geometry, voxels: voxels, timePoints: volume.timePoints, timeStep: volume.timeStep,
                          scaling: volume.scaling, metadata: volume.metadata)
    }
}

/// Crops or pads to a fixed size, centred (the extra voxel of an odd difference goes to the end, as in
/// MONAI's `ResizeWithPadOrCrop`).
public struct CropOrPad: Codable, Sendable, Equatable {
    /// Target size (i, j, k).
    public var size: [Int]

    /// Creates the transform; sizes must be positive.
    public init(size: [Int]) throws {
        guard size.count == 3, size.allSatisfy({ $0 > 0 }) else { throw TransformError.invalidParameter("size must be 3 positive integers, got \(size)") }
        self.size = size
    }

    /// The window for a grid.
    public func plan(for geometry: Geometry) throws -> GridWindow {
        let input = [geometry.size.x, geometry.size.y, geometry.size.z]
        let offset = (0..<3).map { c -> Int in
            let d = input[c] - size[c]
            return d >= 0 ? d / 2 : -((-d) / 2)
        }
        return try GridWindow(offset: offset, size: size, inputSize: input)
    }
}

/// Crops to the bounding box of the voxels above `threshold` (physical units), enlarged by `margin` voxels
/// and kept inside the grid. A volume with no such voxel is left whole.
public struct CropForeground: Codable, Sendable, Equatable {
    /// Voxels with a physical value above this are foreground.
    public var threshold: Double
    /// Voxels added on every side of the bounding box.
    public var margin: Int

    /// Creates the transform.
    public init(threshold: Double, margin: Int = 0) throws {
        guard margin >= 0 else { throw TransformError.invalidParameter("margin must be ≥ 0, got \(margin)") }
        self.threshold = threshold
        self.margin = margin
    }

    /// The window for a volume (first time point decides).
    public func plan(for volume: Volume) throws -> GridWindow {
        try window(volume.geometry.size) { i, j, k in volume.value(i, j, k) > threshold }
    }

    /// The window around the non-zero voxels of a mask (the threshold is not used), enlarged by `margin`.
    public func plan(forMask mask: LabelMap) throws -> GridWindow {
        try window(mask.geometry.size) { i, j, k in mask.label(i, j, k) != 0 }
    }

    private func window(_ s: SIMD3<Int>, _ isForeground: (Int, Int, Int) -> Bool) throws -> GridWindow {
        var lo = [Int.max, Int.max, Int.max], hi = [-1, -1, -1]
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x where isForeground(i, j, k) {
            lo = [min(lo[0], i), min(lo[1], j), min(lo[2], k)]
            hi = [max(hi[0], i), max(hi[1], j), max(hi[2], k)]
        } } }
        let input = [s.x, s.y, s.z]
        guard hi[0] >= 0 else { return try GridWindow(offset: [0, 0, 0], size: input, inputSize: input) }
        let start = (0..<3).map { max(0, lo[$0] - margin) }
        let end = (0..<3).map { min(input[$0] - 1, hi[$0] + margin) }
        return try GridWindow(offset: start, size: (0..<3).map { end[$0] - start[$0] + 1 }, inputSize: input)
    }
}
