import VoxelSupport

/// The exact Euclidean distance transform of a 3D box of voxels, in millimetres, on anisotropic grids.
///
/// For every voxel it gives the squared distance (mm²) from its centre to the centre of the nearest *feature*
/// voxel. Separable and exact (the lower envelope of parabolas of Felzenszwalb and Huttenlocher, "Distance
/// Transforms of Sampled Functions", 2012): one pass along i computes the 1D distance to the nearest feature on
/// each line, then one pass along j and one along k fold in the other axes. Linear in the number of voxels.
///
/// Distances are those of an orthogonal grid with the given spacing: exact world distances for any grid whose
/// axes are orthogonal (oblique, rotated grids included), since a rotation keeps distances.
///
/// Layout: `i` fastest, then `j`, then `k` (`i + nx * (j + ny * k)`), as `VoxelArray`.
public enum EuclideanDistanceTransform {
    /// Squared distances (mm²) from every voxel of a `size` box to the nearest voxel whose `features` byte is
    /// non-zero; `+infinity` everywhere when there is no feature.
    /// - Parameters:
    ///   - features: one byte per voxel, non-zero for feature voxels; `features.count == size.x * size.y * size.z`.
    ///   - size: voxels along i, j, k.
    ///   - spacing: voxel spacing along i, j, k in mm (positive).
    /// Uses up to `ComputeBudget.threads` threads.
    public static func squaredDistances(features: [UInt8], size: SIMD3<Int>, spacing: SIMD3<Double>) -> [Double] {
        let (nx, ny, nz) = (size.x, size.y, size.z)
        let count = nx * ny * nz
        precondition(features.count == count, "EuclideanDistanceTransform: features do not fill the box")
        var out = [Double](repeating: .infinity, count: count)
        guard count > 0 else { return out }
        out.withUnsafeMutableBufferPointer { outBuffer in
            features.withUnsafeBufferPointer { featureBuffer in
                let dst = Shared(outBuffer), src = Shared(featureBuffer)
                // Pass 1, along i: distance to the nearest feature on the same line.
                let sx2 = spacing.x * spacing.x
                forEachChunk(lines: ny * nz) { range in
                    for line in range {
                        let base = line * nx
                        var last = -1
                        for i in 0..<nx {
                            if src.value[base + i] != 0 { last = i }
                            if last >= 0 { let d = Double(i - last); dst.value[base + i] = d * d * sx2 }
                        }
                        last = -1
                        for i in stride(from: nx - 1, through: 0, by: -1) {
                            if src.value[base + i] != 0 { last = i }
                            if last >= 0 {
                                let d = Double(last - i)
                                dst.value[base + i] = Swift.min(dst.value[base + i], d * d * sx2)
                            }
                        }
                    }
                }
                // Pass 2, along j (lines indexed by (i, k)); pass 3, along k (lines indexed by (i, j)).
                if ny > 1 {
                    envelopePass(dst, lines: nx * nz, length: ny, stride: nx, weight: spacing.y * spacing.y) { line in
                        let i = line % nx, k = line / nx
                        return i + nx * ny * k
                    }
                }
                if nz > 1 {
                    envelopePass(dst, lines: nx * ny, length: nz, stride: nx * ny, weight: spacing.z * spacing.z) { $0 }
                }
            }
        }
        return out
    }

    /// Runs `body` over `0..<lines` in contiguous chunks on the caller's thread budget.
    private static func forEachChunk(lines: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let threads = ComputeBudget.threads
        let chunks = lines < 256 || threads == 1 ? 1 : min(lines, threads * 4)
        Parallel.perform(chunks) { c in
            body((lines * c / chunks)..<(lines * (c + 1) / chunks))
        }
    }

    /// One separable pass: for each line `d[p] = min_q f[q] + weight * (p - q)²` (weight = spacing²).
    private static func envelopePass(_ data: Shared<UnsafeMutableBufferPointer<Double>>, lines: Int, length n: Int,
                                     stride: Int, weight: Double, start: @Sendable @escaping (Int) -> Int) {
        forEachChunk(lines: lines) { range in
            var f = [Double](repeating: 0, count: n)
            var v = [Int](repeating: 0, count: n)
            var z = [Double](repeating: 0, count: n + 1)
            for line in range {
                let base = start(line)
                var anyFinite = false
                for p in 0..<n {
                    let value = data.value[base + p * stride]
                    f[p] = value
                    if value.isFinite { anyFinite = true }
                }
                guard anyFinite else { continue }
                // Lower envelope of the parabolas rooted at the finite samples.
                func intersection(_ q: Int, _ r: Int) -> Double {
                    ((f[q] + weight * Double(q * q)) - (f[r] + weight * Double(r * r))) / (2 * weight * Double(q - r))
                }
                var k = -1
                for q in 0..<n where f[q].isFinite {
                    if k < 0 {
                        k = 0; v[0] = q; z[0] = -.infinity; z[1] = .infinity
                        continue
                    }
                    // z[0] is -infinity, so the search stops at the first parabola at the latest.
                    var s = intersection(q, v[k])
                    while s <= z[k] { k -= 1; s = intersection(q, v[k]) }
                    k += 1
                    v[k] = q; z[k] = s; z[k + 1] = .infinity
                }
                var j = 0
                for p in 0..<n {
                    while z[j + 1] < Double(p) { j += 1 }
                    let d = Double(p - v[j])
                    data.value[base + p * stride] = f[v[j]] + weight * d * d
                }
            }
        }
    }
}
