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
        var parent = [Int32](repeating: -1, count: n)  // -1 background; roots point to themselves
        func find(_ a: Int) -> Int {
            var r = a
            while Int(parent[r]) != r { r = Int(parent[r]) }
            var c = a
            while Int(parent[c]) != r { let next = Int(parent[c]); parent[c] = Int32(r); c = next }
            return r
        }
        let offsets = connectivity.previousOffsets
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x {
            let idx = i + s.x * (j + s.y * k)
            guard v.voxels.value(at: idx) != 0 else { continue }
            parent[idx] = Int32(idx)
            for (di, dj, dk) in offsets {
                let (a, b, c) = (i + di, j + dj, k + dk)
                guard a >= 0, b >= 0, c >= 0, a < s.x, b < s.y else { continue }
                let nidx = a + s.x * (b + s.y * c)
                guard parent[nidx] >= 0 else { continue }
                let r1 = find(idx), r2 = find(nidx)
                if r1 != r2 { parent[max(r1, r2)] = Int32(min(r1, r2)) }
            }
        } } }
        var number = [Int32](repeating: 0, count: n)
        var next: Int32 = 0
        var out = [Int32](repeating: 0, count: n)
        for idx in 0..<n where parent[idx] >= 0 {
            let r = find(idx)
            if number[r] == 0 { next += 1; number[r] = next }
            out[idx] = number[r]
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
        var keep = [Bool](repeating: false, count: n)
        for label in labels.labelsPresent() where label != 0 {
            let mask = v.voxels.gathered(count: n) { v.voxels.value(at: $0) == Double(label) ? $0 : nil }
            let (components, count) = try ConnectedComponents(connectivity: connectivity)
                .apply(LabelMap(Volume(geometry: v.geometry, voxels: mask)))
            guard count > 0, case .int32(let c) = components.volume.voxels else { continue }
            var sizes = [Int](repeating: 0, count: count + 1)
            for x in c { sizes[Int(x)] += 1 }
            sizes[0] = -1
            let largest = sizes.indices.max { sizes[$0] < sizes[$1] || (sizes[$0] == sizes[$1] && $0 > $1) } ?? 1
            for i in 0..<n where c[i] == Int32(largest) { keep[i] = true }
        }
        return try LabelMap(Volume(geometry: v.geometry, voxels: v.voxels.gathered(count: n) { keep[$0] ? $0 : nil },
                                   metadata: v.metadata))
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
        var inverted = [UInt8](repeating: 0, count: n)
        for i in 0..<n where v.voxels.value(at: i) == 0 { inverted[i] = 1 }
        let (regions, count) = try ConnectedComponents(connectivity: .faces)
            .apply(LabelMap(Volume(geometry: v.geometry, voxels: .uint8(inverted))))
        guard case .int32(let r) = regions.volume.voxels else { return mask }
        var touchesBorder = [Bool](repeating: false, count: count + 1)
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x
            where i == 0 || j == 0 || k == 0 || i == s.x - 1 || j == s.y - 1 || k == s.z - 1 {
            touchesBorder[Int(r[i + s.x * (j + s.y * k)])] = true
        } } }
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n { out[i] = (v.voxels.value(at: i) != 0 || (r[i] != 0 && !touchesBorder[Int(r[i])])) ? 1 : 0 }
        return try LabelMap(Volume(geometry: v.geometry, voxels: .uint8(out), metadata: v.metadata))
    }
}
