/// Exact nearest-neighbour distances between point sets in world millimetres, by a k-d tree: the surface distances
/// of grids whose axes are not orthogonal (sheared grids), where a distance transform along the axes would not give
/// world distances.
struct NearestPointSearch {
    private var points: [SIMD3<Double>]
    /// Split axis per node of the implicit tree (the median of each range is its node).
    private var axes: [Int]

    /// Builds the tree over `points` (at least one).
    init(_ points: [SIMD3<Double>]) {
        self.points = points
        axes = Array(repeating: 0, count: points.count)
        build(0, points.count)
    }

    private mutating func build(_ lo: Int, _ hi: Int) {
        guard hi - lo > 1 else { return }
        var lower = points[lo], upper = points[lo]
        for n in lo..<hi { lower = pointwiseMin(lower, points[n]); upper = pointwiseMax(upper, points[n]) }
        let extent = upper - lower
        let axis = extent.x >= extent.y && extent.x >= extent.z ? 0 : (extent.y >= extent.z ? 1 : 2)
        let mid = (lo + hi) / 2
        points[lo..<hi].sort { $0[axis] < $1[axis] }
        axes[mid] = axis
        build(lo, mid)
        build(mid + 1, hi)
    }

    /// The distance from `query` to the nearest point of the set.
    func distance(to query: SIMD3<Double>) -> Double {
        var best = Double.infinity
        search(query, 0, points.count, &best)
        return best.squareRoot()
    }

    private func search(_ q: SIMD3<Double>, _ lo: Int, _ hi: Int, _ best: inout Double) {
        guard hi > lo else { return }
        let mid = (lo + hi) / 2
        let d = q - points[mid]
        best = min(best, (d * d).sum())
        guard hi - lo > 1 else { return }
        let axis = axes[mid]
        let delta = q[axis] - points[mid][axis]
        let (near, far) = delta < 0 ? ((lo, mid), (mid + 1, hi)) : ((mid + 1, hi), (lo, mid))
        search(q, near.0, near.1, &best)
        if delta * delta < best { search(q, far.0, far.1, &best) }
    }
}
