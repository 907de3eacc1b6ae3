import VoxelCore

/// Binary erosion or dilation of the non-zero voxels with the 3×3×3 structuring element of a
/// connectivity (6: a cross, 18, 26: the full cube), repeated `iterations` times. Voxels outside the grid
/// count as background (as scipy's `binary_erosion`/`binary_dilation` with `border_value=0`).
/// Output: uint8 0/1 label map.
public struct BinaryMorphology: Codable, Sendable, Equatable {
    /// Which operation.
    public enum Operation: String, Codable, Sendable { case erode, dilate }
    public var operation: Operation
    public var connectivity: Connectivity
    public var iterations: Int

    /// Creates the transform; `iterations` ≥ 1.
    public init(_ operation: Operation, connectivity: Connectivity = .faces, iterations: Int = 1) throws {
        guard iterations >= 1 else { throw TransformError.invalidParameter("iterations must be ≥ 1, got \(iterations)") }
        self.operation = operation
        self.connectivity = connectivity
        self.iterations = iterations
    }

    /// Applies the operation.
    public func apply(_ mask: LabelMap) throws -> LabelMap {
        let v = mask.volume
        let s = v.geometry.size
        var current = (0..<v.voxels.count).map { v.voxels.value(at: $0) != 0 }
        let offsets = connectivity.previousOffsets.flatMap { [($0.0, $0.1, $0.2), (-$0.0, -$0.1, -$0.2)] }
        for _ in 0..<iterations {
            var next = current
            for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x {
                let idx = i + s.x * (j + s.y * k)
                var hit = false
                for (di, dj, dk) in offsets {
                    let (a, b, c) = (i + di, j + dj, k + dk)
                    let inside = a >= 0 && b >= 0 && c >= 0 && a < s.x && b < s.y && c < s.z
                    let neighbour = inside && current[a + s.x * (b + s.y * c)]
                    if operation == .erode && !neighbour { hit = true; break }
                    if operation == .dilate && neighbour { hit = true; break }
                }
                next[idx] = operation == .erode ? (current[idx] && !hit) : (current[idx] || hit)
            } } }
            current = next
        }
        return try LabelMap(Volume(geometry: v.geometry, voxels: .uint8(current.map { $0 ? 1 : 0 }), metadata: v.metadata))
    }
}

/// Removes connected components smaller than a volume in millilitres (each label separately).
public struct RemoveSmallComponents: Codable, Sendable, Equatable {
    /// Components below this volume (mL) are set to 0.
    public var minimumMillilitres: Double
    public var connectivity: Connectivity

    /// Creates the transform.
    public init(minimumMillilitres: Double, connectivity: Connectivity = .corners) throws {
        guard minimumMillilitres >= 0 else { throw TransformError.invalidParameter("minimum volume must be ≥ 0 mL") }
        self.minimumMillilitres = minimumMillilitres
        self.connectivity = connectivity
    }

    /// The label map without its small components.
    public func apply(_ labels: LabelMap) throws -> LabelMap {
        let v = labels.volume
        let n = v.voxels.count
        let voxelML = v.geometry.spacing.x * v.geometry.spacing.y * v.geometry.spacing.z / 1000
        var forest = ComponentForest(v, connectivity: connectivity, sameValue: true) { v.voxels.value(at: $0) != 0 }
        let sizes = forest.sizes()
        return try LabelMap(Volume(geometry: v.geometry, voxels: v.voxels.gathered(count: n) { idx in
            guard forest.parent[idx] >= 0 else { return nil }
            return Double(sizes[forest.find(idx)] ?? 0) * voxelML >= minimumMillilitres ? idx : nil
        }, metadata: v.metadata))
    }
}

/// Renames labels (`mapping[old] = new`); labels not in the mapping are kept, or set to 0 with `dropUnmapped`.
public struct RemapLabels: Codable, Sendable, Equatable {
    public var mapping: [Int: Int]
    public var dropUnmapped: Bool

    /// Creates the transform; new labels must fit in int32.
    public init(mapping: [Int: Int], dropUnmapped: Bool = false) throws {
        guard mapping.values.allSatisfy({ $0 >= Int(Int32.min) && $0 <= Int(Int32.max) }) else {
            throw TransformError.invalidParameter("new labels must fit in 32 bits")
        }
        self.mapping = mapping
        self.dropUnmapped = dropUnmapped
    }

    /// The remapped label map (int32).
    public func apply(_ labels: LabelMap) throws -> LabelMap {
        let v = labels.volume
        let out = (0..<v.voxels.count).map { n -> Int32 in
            let old = Int(v.voxels.value(at: n))
            if let new = mapping[old] { return Int32(new) }
            return dropUnmapped ? 0 : Int32(old)
        }
        return try LabelMap(Volume(geometry: v.geometry, voxels: .int32(out), metadata: v.metadata))
    }
}
