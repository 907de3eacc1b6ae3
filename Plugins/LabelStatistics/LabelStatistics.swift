import VoxelCore
import VoxelPipeline
import VoxelSupport

/// Measurements of one label of a label map.
public struct LabelStatistics: Sendable {
    public var label: Int
    public var voxels: Int
    /// Volume in millilitres (voxels × voxel volume in mm³ / 1000).
    public var volumeML: Double
    /// Smallest and largest voxel index (i, j, k) of the label, inclusive.
    public var boxMin: [Int]
    public var boxMax: [Int]
    /// Mean voxel centre in world coordinates, LPS (DICOM) and RAS (NIfTI), mm.
    public var centroidLPS: [Double]
    /// Image statistics under the label (physical units), when an image was given.
    public var intensity: Intensity?

    /// Image values under a label. `std` is the population standard deviation (numpy's default, ddof 0);
    /// percentiles use linear interpolation between order statistics (numpy's default).
    public struct Intensity: Sendable {
        public var mean: Double
        public var std: Double
        public var min: Double
        public var max: Double
        public var percentiles: [(Double, Double)]
    }

    /// Statistics of every non-zero label, ascending. `image` must be on the label map's grid.
    public static func compute(_ labels: LabelMap, image: Volume?, percentiles: [Double]) -> [LabelStatistics] {
        let g = labels.geometry
        let s = g.size
        let voxelML = g.spacing.x * g.spacing.y * g.spacing.z / 1000
        struct Accumulator {
            var count = 0
            var lo = SIMD3<Int>(repeating: Int.max), hi = SIMD3<Int>(repeating: Int.min)
            var sum = SIMD3<Double>(0, 0, 0)
            var values: [Float] = []
        }
        var slot: [Int: Int] = [:]
        var acc: [Accumulator] = []
        let voxels = labels.volume.voxels
        var n = 0
        var lastLabel = 0, lastSlot = -1
        for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x {
            defer { n += 1 }
            let label = Int(voxels.value(at: n))
            if label == 0 { continue }
            let a: Int
            if label == lastLabel && lastSlot >= 0 {
                a = lastSlot
            } else if let existing = slot[label] {
                a = existing
            } else {
                a = acc.count
                slot[label] = a
                acc.append(Accumulator())
            }
            lastLabel = label
            lastSlot = a
            let index = SIMD3(i, j, k)
            acc[a].count += 1
            acc[a].lo = pointwiseMin(acc[a].lo, index)
            acc[a].hi = pointwiseMax(acc[a].hi, index)
            acc[a].sum += SIMD3(Double(i), Double(j), Double(k))
            if let image { acc[a].values.append(Float(image.scaling.apply(image.voxels.value(at: n)))) }
        } } }
        return slot.keys.sorted().compactMap { label in
            guard let i = slot[label] else { return nil }
            let a = acc[i]
            let centreIndex = a.sum / Double(a.count)
            var stats = LabelStatistics(label: label, voxels: a.count, volumeML: Double(a.count) * voxelML,
                                        boxMin: [a.lo.x, a.lo.y, a.lo.z], boxMax: [a.hi.x, a.hi.y, a.hi.z], centroidLPS: [], intensity: nil)
            let c = g.worldPoint(atIndex: centreIndex)
            stats.centroidLPS = [c.x, c.y, c.z]
            if image != nil { stats.intensity = Self.intensity(a.values, percentiles: percentiles) }
            return stats
        }
    }

    static func intensity(_ values: [Float], percentiles: [Double]) -> Intensity {
        let sorted = values.sorted()
        let count = Double(sorted.count)
        var sum = 0.0
        for v in sorted { sum += Double(v) }
        let mean = sum / count
        var squares = 0.0
        for v in sorted { let d = Double(v) - mean; squares += d * d }
        let p = percentiles.map { q -> (Double, Double) in
            let position = q / 100 * (count - 1)
            let below = Int(position.rounded(.down))
            let above = Swift.min(below + 1, sorted.count - 1)
            let f = position - Double(below)
            return (q, Double(sorted[below]) * (1 - f) + Double(sorted[above]) * f)
        }
        return Intensity(mean: mean, std: (squares / count).squareRoot(), min: Double(sorted.first ?? 0),
                         max: Double(sorted.last ?? 0), percentiles: p)
    }

    /// The report entry for this label.
    public func json(name: String?) -> JSON {
        var members: [(String, JSON)] = [("label", .int(label))]
        if let name { members.append(("name", .string(name))) }
        members += [
            ("voxels", .int(voxels)),
            ("volumeML", .number(Self.round(volumeML))),
            ("boundingBox", .object([("min", .array(boxMin.map { .int($0) })), ("max", .array(boxMax.map { .int($0) }))])),
            ("centroidLPS", .numbers(centroidLPS.map(Self.round))),
            ("centroidRAS", .numbers([-centroidLPS[0], -centroidLPS[1], centroidLPS[2]].map(Self.round))),
        ]
        if let t = intensity {
            var stats: [(String, JSON)] = [
                ("mean", .number(Self.round(t.mean))), ("std", .number(Self.round(t.std))),
                ("min", .number(Self.round(t.min))), ("max", .number(Self.round(t.max))),
            ]
            for (q, v) in t.percentiles { stats.append(("p" + (q == q.rounded() ? String(Int(q)) : String(q)), .number(Self.round(v)))) }
            members.append(("intensity", .object(stats)))
        }
        return .object(members)
    }

    /// Rounds to 6 decimals so reports are stable and readable.
    static func round(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
}
