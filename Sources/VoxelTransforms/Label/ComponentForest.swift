import VoxelCore

/// Union-find over the voxels of a grid: one int32 per voxel (−1 for voxels not taking part), every
/// component's root being its first voxel in x-fastest raster order. The label transforms build on it so
/// that only this one full-size array is needed besides their output.
struct ComponentForest {
    private(set) var parent: [Int32]

    /// Joins neighbouring voxels for which `member` is true; with `sameValue`, only neighbours with equal
    /// stored values join (components of each label separately).
    init(_ v: Volume, connectivity: Connectivity, sameValue: Bool, member: (Int) -> Bool) {
        let s = v.geometry.size
        let n = s.x * s.y * s.z
        parent = [Int32](repeating: -1, count: n)
        let offsets = connectivity.previousOffsets
        let voxels = v.voxels
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x {
            let idx = i + s.x * (j + s.y * k)
            guard member(idx) else { continue }
            parent[idx] = Int32(idx)
            let value = sameValue ? voxels.value(at: idx) : 0
            for (di, dj, dk) in offsets {
                let (a, b, c) = (i + di, j + dj, k + dk)
                guard a >= 0, b >= 0, c >= 0, a < s.x, b < s.y else { continue }
                let nidx = a + s.x * (b + s.y * c)
                guard parent[nidx] >= 0, !sameValue || voxels.value(at: nidx) == value else { continue }
                let r1 = find(idx), r2 = find(nidx)
                if r1 != r2 { parent[max(r1, r2)] = Int32(min(r1, r2)) }
            }
        } } }
    }

    /// The root of `a`'s component (with path compression); `a` must take part.
    mutating func find(_ a: Int) -> Int {
        var r = a
        while Int(parent[r]) != r { r = Int(parent[r]) }
        var c = a
        while Int(parent[c]) != r { let next = Int(parent[c]); parent[c] = Int32(r); c = next }
        return r
    }

    /// Voxel count of every component, by root.
    mutating func sizes() -> [Int: Int] {
        var sizes: [Int: Int] = [:]
        for idx in 0..<parent.count where parent[idx] >= 0 { sizes[find(idx), default: 0] += 1 }
        return sizes
    }
}
