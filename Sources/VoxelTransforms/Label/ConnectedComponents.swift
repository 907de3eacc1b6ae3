import VoxelCore

/// Which neighbours touch: 6 (faces), 18 (faces and edges) or 26 (faces, edges and corners).
public enum Connectivity: Int, Codable, Sendable, CaseIterable {
    case faces = 6, edges = 18, corners = 26

    /// Neighbour offsets (di, dj, dk) that come before a voxel in x-fastest raster order.
    var previousOffsets: [(Int, Int, Int)] {
        var out: [(Int, Int, Int)] = []
        for dk in -1...0 { for dj in -1...1 { for di in -1...1 {
            if dk == 0 && (dj > 0 || (dj == 0 && di >= 0)) { continue }
            let manhattan = abs(di) + abs(dj) + abs(dk)
            if manhattan == 1 || (manhattan == 2 && self != .faces) || (manhattan == 3 && self == .corners) {
                out.append((di, dj, dk))
            }
        } } }
        return out
    }
}

/// Labels the connected components of the non-zero voxels: 1, 2, … in the order their first voxel comes
/// in x-fastest raster order; background stays 0. Output is an int32 label map on the same grid.
public struct ConnectedComponents: Codable, Sendable, Equatable {
    /// Neighbourhood.
    public var connectivity: Connectivity

    /// Creates the transform.
    public init(connectivity: Connectivity = .corners) { self.connectivity = connectivity }

    /// Component labels and their count.
    public func apply(_ labels: LabelMap) throws -> (labels: LabelMap, count: Int) {
        let v = labels.volume
        let s = v.geometry.size
        let n = s.x * s.y * s.z
        var forest = ComponentForest(v, connectivity: connectivity, sameValue: false) { v.voxels.value(at: $0) != 0 }
        // Roots come first in raster order, so a root's number is set before any other voxel of its component.
        var next: Int32 = 0
        var out = [Int32](repeating: 0, count: n)
        for idx in 0..<n where forest.parent[idx] >= 0 {
            let r = forest.find(idx)
            if r == idx { next += 1; out[idx] = next } else { out[idx] = out[r] }
        }
        let volume = try Volume(geometry: v.geometry, voxels: .int32(out), metadata: v.metadata)
        return (try LabelMap(volume), Int(next))
    }
}

/// Keeps only the largest connected component of each label (ties: the first in raster order).
public struct KeepLargestComponent: Codable, Sendable, Equatable {
    /// Neighbourhood.
    public var connectivity: Connectivity

    /// Creates the transform.
    public init(connectivity: Connectivity = .corners) { self.connectivity = connectivity }

    /// The label map with every smaller component of each label set to 0.
    public func apply(_ labels: LabelMap) throws -> LabelMap {
        let v = labels.volume
        let n = v.voxels.count
        var forest = ComponentForest(v, connectivity: connectivity, sameValue: true) { v.voxels.value(at: $0) != 0 }
        // Largest root per label; ties go to the first component in raster order (the smaller root).
        var best: [Double: (root: Int, size: Int)] = [:]
        for (root, size) in forest.sizes() {
            let label = v.voxels.value(at: root)
            if let b = best[label], b.size > size || (b.size == size && b.root < root) { continue }
            best[label] = (root, size)
        }
        let keepRoots = Set(best.values.map(\.root))
        return try LabelMap(Volume(geometry: v.geometry, voxels: v.voxels.gathered(count: n) { idx in
            forest.parent[idx] >= 0 && keepRoots.contains(forest.find(idx)) ? idx : nil
        }, metadata: v.metadata))
    }
}

/// Fills holes: background regions (6-connected, as scipy's `binary_fill_holes`) that do not touch the grid
/// border become foreground. Works on a binary mask; the output is a uint8 0/1 label map.
public struct FillHoles: Codable, Sendable, Equatable {
    /// Creates the transform.
    public init() {}

    /// The mask with its enclosed holes filled.
    public func apply(_ mask: LabelMap) throws -> LabelMap {
        let v = mask.volume
        let s = v.geometry.size
        let n = s.x * s.y * s.z
        var background = ComponentForest(v, connectivity: .faces, sameValue: false) { v.voxels.value(at: $0) == 0 }
        var outside = Set<Int>()
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x
            where i == 0 || j == 0 || k == 0 || i == s.x - 1 || j == s.y - 1 || k == s.z - 1 {
            let idx = i + s.x * (j + s.y * k)
            if background.parent[idx] >= 0 { outside.insert(background.find(idx)) }
        } } }
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n { out[i] = (background.parent[i] < 0 || !outside.contains(background.find(i))) ? 1 : 0 }
        return try LabelMap(Volume(geometry: v.geometry, voxels: .uint8(out), metadata: v.metadata))
    }
}
