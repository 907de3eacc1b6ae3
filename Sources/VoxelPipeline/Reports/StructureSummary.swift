import VoxelCore
import VoxelIO
import VoxelSupport

/// What a report says about one labelled structure, computed once and used for the JSON report, the HTML
/// report and the batch summary alike (so their numbers are the same).
public struct StructureSummary: Sendable {
    /// Label value.
    public var value: Int
    /// Name from the label table ("Label N" without one).
    public var name: String
    /// Display colour (sRGB).
    public var color: [Int]
    /// Voxels of the label.
    public var voxels: Int
    /// Volume in millilitres (voxels × voxel volume).
    public var volumeML: Double
    /// Centroid in world (LPS) millimetres.
    public var centroid: SIMD3<Double>
    /// Mean of the image's physical intensities at the label's voxels (nearest image voxel to each label
    /// voxel's centre); nil when no label voxel lies inside the image.
    public var meanIntensity: Double?
    /// True when the label touches the border of its grid: the structure may continue beyond the scan.
    public var touchesBorder: Bool

    /// Summaries of every non-zero label of `labels`, in increasing value, with `image` for intensities.
    public static func all(labels: LabelMap, image: Volume, table: LabelTable?) -> [StructureSummary] {
        let g = labels.geometry
        let nx = g.size.x, ny = g.size.y, nz = g.size.z
        let voxelML = g.spacing.x * g.spacing.y * g.spacing.z / 1000
        let toImage = (image.geometry.affine.inverse ?? .identity) * g.affine
        let ig = image.geometry
        let intensities = image.physicalFloats()
        var count: [Int: Int] = [:], sum: [Int: SIMD3<Double>] = [:], border: Set<Int> = [], isum: [Int: Double] = [:], icount: [Int: Int] = [:]
        for k in 0..<nz {
            for j in 0..<ny {
                for i in 0..<nx {
                    let l = labels.label(i, j, k)
                    guard l != 0 else { continue }
                    count[l, default: 0] += 1
                    sum[l, default: .zero] += SIMD3(Double(i), Double(j), Double(k))
                    if i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1 { border.insert(l) }
                    let p = toImage.apply(SIMD3(Double(i), Double(j), Double(k)))
                    let a = Int(p.x.rounded()), b = Int(p.y.rounded()), c = Int(p.z.rounded())
                    if a >= 0, b >= 0, c >= 0, a < ig.size.x, b < ig.size.y, c < ig.size.z {
                        isum[l, default: 0] += Double(intensities[(c * ig.size.y + b) * ig.size.x + a])
                        icount[l, default: 0] += 1
                    }
                }
            }
        }
        return count.keys.sorted().map { l in
            let n = count[l] ?? 0
            let info = table?[l] ?? LabelInfo(value: l, name: "Label \(l)")
            let mean = (icount[l] ?? 0) > 0 ? (isum[l] ?? 0) / Double(icount[l] ?? 1) : nil
            return StructureSummary(value: l, name: info.name, color: info.color, voxels: n, volumeML: round6(Double(n) * voxelML),
                                    centroid: g.affine.apply((sum[l] ?? .zero) / Double(max(n, 1))), meanIntensity: mean.map(round6),
                                    touchesBorder: border.contains(l))
        }
    }

    /// The structure as a report entry.
    public var json: JSON {
        var members: [(String, JSON)] = [
            ("value", .int(value)), ("name", .string(name)), ("voxels", .int(voxels)), ("volumeML", .number(volumeML)),
            ("centroidMM", .numbers([centroid.x, centroid.y, centroid.z].map(StructureSummary.round6))),
        ]
        if let meanIntensity { members.append(("meanIntensity", .number(meanIntensity))) }
        members.append(("touchesBorder", .bool(touchesBorder)))
        return .object(members)
    }

    static func round6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
}
