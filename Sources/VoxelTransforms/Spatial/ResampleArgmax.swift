import VoxelCore
import VoxelSupport

extension ResampleToGrid {
    /// The winning channel of many-channel values (class probabilities) after linear interpolation onto `target`,
    /// without resampling every channel: what `apply` with `.linear` and `fill: 0` followed by a per-voxel argmax
    /// gives (the highest value, the lowest channel on ties; 0 with score 0 outside the source), in one pass and
    /// without a `channels × target` buffer.
    ///
    /// `values` holds `channels` values per source voxel, channels fastest (index `voxel × channels + c`, voxels in
    /// volume order). Each source voxel's `candidates` highest channels are ranked once; an output voxel
    /// interpolates only the channels ranked at its 8 neighbours, which is exact whenever the best of them beats
    /// every other channel's bound (the highest unranked value at those neighbours); otherwise that voxel
    /// interpolates every channel.
    /// - Returns: the winning channel and its interpolated value per output voxel (volume order).
    /// - Throws: `TransformError.incompatibleVolume` for a singular source affine or a value count that does not fit.
    public func linearArgmax(_ values: [Float], channels: Int, source: Geometry, candidates: Int = 4) throws -> (channel: [UInt16], score: [Float]) {
        guard let toInput = source.affine.inverse else { throw TransformError.incompatibleVolume("the input grid's affine is singular") }
        let input = source.size
        let nIn = input.x * input.y * input.z
        guard channels >= 1, channels <= 65_536, values.count == nIn * channels else {
            throw TransformError.incompatibleVolume("\(values.count) values are not \(channels) channels of a \(input) grid")
        }
        let k = max(1, min(candidates, channels))
        // Per source voxel: its k best channels (descending) and the best value of the others.
        var ranked = [UInt16](repeating: 0, count: nIn * k)
        var bound = [Float](repeating: -.infinity, count: nIn)
        let threads = ComputeBudget.threads
        values.withUnsafeBufferPointer { src in
            ranked.withUnsafeMutableBufferPointer { rk in
                bound.withUnsafeMutableBufferPointer { bd in
                    let s = Shared(src), r = Shared(rk), b = Shared(bd)
                    let chunks = min(threads * 4, max(1, nIn / 4096))
                    let per = (nIn + chunks - 1) / chunks
                    Parallel.perform(chunks) { chunk in
                        var topValue = [Float](repeating: -.infinity, count: k + 1)
                        var topIndex = [Int](repeating: 0, count: k + 1)
                        for v in min(nIn, chunk * per)..<min(nIn, (chunk + 1) * per) {
                            for i in 0...k { topValue[i] = -.infinity; topIndex[i] = 0 }
                            let base = v * channels
                            for c in 0..<channels {
                                let x = s.value[base + c]
                                guard x > topValue[k] else { continue }
                                // Insert, keeping the k + 1 best in descending order (earlier channel first on ties).
                                var at = k
                                while at > 0, x > topValue[at - 1] { topValue[at] = topValue[at - 1]; topIndex[at] = topIndex[at - 1]; at -= 1 }
                                topValue[at] = x
                                topIndex[at] = c
                            }
                            for i in 0..<k { r.value[v * k + i] = UInt16(truncatingIfNeeded: topIndex[i]) }
                            b.value[v] = k < channels ? topValue[k] : -.infinity
                        }
                    }
                }
            }
        }

        let map = toInput * target.affine
        let out = target.size
        let nOut = out.x * out.y * out.z
        let m = map.linear, o = map.translation
        let colX = m.column(0), colY = m.column(1), colZ = m.column(2)
        let limit = SIMD3<Double>(Double(input.x) - 0.5, Double(input.y) - 0.5, Double(input.z) - 0.5)
        var label = [UInt16](repeating: 0, count: nOut)
        var score = [Float](repeating: 0, count: nOut)
        values.withUnsafeBufferPointer { src in
            ranked.withUnsafeBufferPointer { rk in
                bound.withUnsafeBufferPointer { bd in
                    label.withUnsafeMutableBufferPointer { lb in
                        score.withUnsafeMutableBufferPointer { sc in
                            let s = Shared(src), r = Shared(rk), b = Shared(bd), l = Shared(lb), o2 = Shared(sc)
                            let slabs = out.z
                            let chunks = min(threads * 4, max(1, slabs))
                            let per = (slabs + chunks - 1) / chunks
                            Parallel.perform(chunks) { chunk in
                                var seen = [UInt32](repeating: 0, count: channels)
                                var stamp: UInt32 = 0
                                var list = [Int](repeating: 0, count: 8 * k)
                                var corners = [Int](repeating: 0, count: 8)
                                let sx = input.x, sxy = input.x * input.y
                                for zk in min(slabs, chunk * per)..<min(slabs, (chunk + 1) * per) {
                                    for j in 0..<out.y {
                                        var p = o + colY * Double(j) + colZ * Double(zk)
                                        let row = out.x * (j + out.y * zk)
                                        for i in 0..<out.x {
                                            defer { p += colX }
                                            guard case let (x0, x1, y0, y1, z0, z1, wx, wy, wz)? = LinearSampler.cell(p, input: input, limit: limit) else { continue }
                                            let n = (y0 * sx + z0 * sxy + x0, y0 * sx + z0 * sxy + x1, y1 * sx + z0 * sxy + x0, y1 * sx + z0 * sxy + x1,
                                                     y0 * sx + z1 * sxy + x0, y0 * sx + z1 * sxy + x1, y1 * sx + z1 * sxy + x0, y1 * sx + z1 * sxy + x1)
                                            corners[0] = n.0; corners[1] = n.1; corners[2] = n.2; corners[3] = n.3
                                            corners[4] = n.4; corners[5] = n.5; corners[6] = n.6; corners[7] = n.7
                                            @inline(__always) func value(_ c: Int) -> Double {
                                                let a00 = Double(s.value[n.0 * channels + c]), b00 = Double(s.value[n.1 * channels + c])
                                                let a10 = Double(s.value[n.2 * channels + c]), b10 = Double(s.value[n.3 * channels + c])
                                                let a01 = Double(s.value[n.4 * channels + c]), b01 = Double(s.value[n.5 * channels + c])
                                                let a11 = Double(s.value[n.6 * channels + c]), b11 = Double(s.value[n.7 * channels + c])
                                                let c00 = a00 + (b00 - a00) * wx, c10 = a10 + (b10 - a10) * wx
                                                let c01 = a01 + (b01 - a01) * wx, c11 = a11 + (b11 - a11) * wx
                                                let c0 = c00 + (c10 - c00) * wy, c1 = c01 + (c11 - c01) * wy
                                                return c0 + (c1 - c0) * wz
                                            }
                                            stamp &+= 1
                                            if stamp == 0 { for c in seen.indices { seen[c] = 0 }; stamp = 1 }
                                            var count = 0
                                            var others = -Double.infinity
                                            for v in corners {
                                                others = max(others, Double(b.value[v]))
                                                for t in 0..<k {
                                                    let c = Int(r.value[v * k + t])
                                                    if seen[c] != stamp { seen[c] = stamp; list[count] = c; count += 1 }
                                                }
                                            }
                                            var best = -Double.infinity, winner = 0
                                            for t in 0..<count {
                                                let c = list[t], x = value(c)
                                                if x > best || (x == best && c < winner) { best = x; winner = c }
                                            }
                                            // Interpolation stays within its corners' range (up to rounding): a channel
                                            // unranked at every corner cannot beat `others`.
                                            if !(best > others + 1e-9) {
                                                best = value(0)
                                                winner = 0
                                                for c in 1..<max(channels, 1) {
                                                    let x = value(c)
                                                    if x > best { best = x; winner = c }
                                                }
                                            }
                                            l.value[row + i] = UInt16(truncatingIfNeeded: winner)
                                            o2.value[row + i] = Float(best)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (label, score)
    }
}
