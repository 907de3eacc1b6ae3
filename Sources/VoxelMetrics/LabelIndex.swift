import VoxelCore
import VoxelSupport

/// A label map recoded to dense indices: voxel value `labels[n - 1]` becomes `n`, every other value 0.
/// Layout as `VoxelArray` (i fastest).
struct LabelIndex {
    let indices: [UInt16]

    init(_ map: LabelMap, labels: [Int]) {
        var lookup: [Int: UInt16] = [:]
        for (n, value) in labels.enumerated() { lookup[value] = UInt16(n + 1) }
        func viaTable<T: FixedWidthInteger>(_ values: [T], offset: Int) -> [UInt16] {
            var table = [UInt16](repeating: 0, count: 1 << T.bitWidth)
            for (value, n) in lookup where value + offset >= 0 && value + offset < table.count { table[value + offset] = n }
            return values.map { table[Int($0) + offset] }
        }
        switch map.volume.voxels {
        case .uint8(let v): indices = viaTable(v, offset: 0)
        case .int8(let v): indices = viaTable(v, offset: 128)
        case .uint16(let v): indices = viaTable(v, offset: 0)
        case .int16(let v): indices = viaTable(v, offset: 32768)
        default:
            let voxels = map.volume.voxels
            indices = (0..<voxels.count).map { lookup[Int(voxels.value(at: $0))] ?? 0 }
        }
    }
}

/// Per-label voxel counts and the bounding box of prediction ∪ reference, from one pass over both maps.
struct OverlapCounts {
    /// Indexed by dense label index (0 unused).
    var predicted: [Int]
    var reference: [Int]
    var truePositives: [Int]
    /// Inclusive voxel bounds of the union, per label; `lower > upper` when the label is in neither map.
    var lower: [SIMD3<Int32>]
    var upper: [SIMD3<Int32>]

    init(labelCount n: Int) {
        predicted = Array(repeating: 0, count: n + 1)
        reference = predicted
        truePositives = predicted
        lower = Array(repeating: SIMD3(repeating: .max), count: n + 1)
        upper = Array(repeating: SIMD3(repeating: .min), count: n + 1)
    }

    /// Counts over whole `size` grids, slabs of k in parallel.
    init(prediction: [UInt16], reference: [UInt16], labelCount n: Int, size: SIMD3<Int>) {
        let (nx, ny, nz) = (size.x, size.y, size.z)
        let slabs = min(nz, max(1, ComputeBudget.threads * 2))
        var slabCounts = [OverlapCounts?](repeating: nil, count: slabs)
        slabCounts.withUnsafeMutableBufferPointer { slabBuffer in
            prediction.withUnsafeBufferPointer { pBuffer in
            reference.withUnsafeBufferPointer { rBuffer in
                let p = Shared(pBuffer), r = Shared(rBuffer), partials = Shared(slabBuffer)
                Parallel.perform(slabs) { s in
                    var c = OverlapCounts(labelCount: n)
                    for k in (nz * s / slabs)..<(nz * (s + 1) / slabs) {
                        for j in 0..<ny {
                            let base = nx * (j + ny * k)
                            for i in 0..<nx {
                                let a = Int(p.value[base + i]), b = Int(r.value[base + i])
                                if a == 0 && b == 0 { continue }
                                let point = SIMD3<Int32>(Int32(i), Int32(j), Int32(k))
                                if a != 0 {
                                    c.predicted[a] += 1
                                    c.lower[a] = pointwiseMin(c.lower[a], point)
                                    c.upper[a] = pointwiseMax(c.upper[a], point)
                                }
                                if b != 0 {
                                    c.reference[b] += 1
                                    if a == b { c.truePositives[a] += 1 } else {
                                        c.lower[b] = pointwiseMin(c.lower[b], point)
                                        c.upper[b] = pointwiseMax(c.upper[b], point)
                                    }
                                }
                            }
                        }
                    }
                    partials.value[s] = c
                }
            }
            }
        }
        self.init(labelCount: n)
        for case let c? in slabCounts {
            for l in 0...n {
                predicted[l] += c.predicted[l]
                self.reference[l] += c.reference[l]
                truePositives[l] += c.truePositives[l]
                lower[l] = pointwiseMin(lower[l], c.lower[l])
                upper[l] = pointwiseMax(upper[l], c.upper[l])
            }
        }
    }
}
