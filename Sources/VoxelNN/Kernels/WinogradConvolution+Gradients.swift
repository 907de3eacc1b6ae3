import VoxelSupport

/// The weight gradient of the Winograd convolution, in the same transformed domain as its forward pass.
///
/// Forward, each tile is `y = Aᵀ (U ⊙ V) A` with `U = G g Gᵀ`, so for the output gradient `dy` of a tile
/// `dM = A dy Aᵀ`, `dU[p] = Σ_tiles dM[p] · V[p]ᵀ` (64 sgemm products of Cout × tiles by tiles × Cin per block) and
/// `dg = Gᵀ dU G`. Output positions outside the volume (the clipped halves of edge tiles) have no gradient.
extension WinogradConvolution {
    /// `∂W[o, c, tap]` (`Cout × Cin × 3 × 3 × 3`) for the input planes `inputs[n][c]` and output-gradient planes
    /// `outputGradients[n][o]`, all of spatial size `size`. Each core accumulates its own `dU`; they are summed at
    /// the end, in worker order.
    static func weightGradient(inputs: [[Shared<UnsafePointer<Float>>]], outputGradients: [[Shared<UnsafePointer<Float>>]],
                               size: [Int]) -> [Float] {
        guard let cin = inputs.first?.count, let cout = outputGradients.first?.count, cin > 0, cout > 0 else { return [] }
        let plan = BlockPlan(size: size, channels: cin + cout)
        let (d, h, w) = (size[0], size[1], size[2])
        let (tH, tW) = (plan.tilesH, plan.tilesW)
        let tilesPerBlock = plan.rowsPerBlock * tW
        let weights = 64 * cout * cin
        // Per worker: V (64·Cin·T), dM (64·Cout·T), row scratch, and its dU.
        let perWorker = 64 * (cin + cout) * tilesPerBlock + plan.scratch + weights
        var workspace = [Float](repeating: 0, count: plan.workers * perWorker)
        workspace.withUnsafeMutableBufferPointer { wsb in
            guard let wsBase = wsb.baseAddress else { return }
            let base = Shared(wsBase)
            Parallel.perform(plan.workers) { worker in
                let v = base.value + worker * perWorker
                let dm = v + 64 * cin * tilesPerBlock
                let rowScratch = dm + 64 * cout * tilesPerBlock
                let du = rowScratch + plan.scratch
                // Jobs are (sample, block) pairs dealt round-robin to the workers.
                for job in stride(from: worker, to: inputs.count * plan.blocks, by: plan.workers) {
                    let (n, block) = (job / plan.blocks, job % plan.blocks)
                    let r0 = block * plan.rowsPerBlock, r1 = min(plan.tileRows, r0 + plan.rowsPerBlock)
                    let tiles = (r1 - r0) * tW
                    for c in 0..<cin {
                        for r in r0..<r1 {
                            transformInput(inputs[n][c].value, size: (d, h, w), tileRow: (r / tH, r % tH), tilesW: tW,
                                           into: v + c * tiles + (r - r0) * tW, positionStride: cin * tiles, scratch: rowScratch)
                        }
                    }
                    for o in 0..<cout {
                        for r in r0..<r1 {
                            transformOutputGradient(outputGradients[n][o].value, size: (d, h, w), tileRow: (r / tH, r % tH), tilesW: tW,
                                                    into: dm + o * tiles + (r - r0) * tW, positionStride: cout * tiles, scratch: rowScratch)
                        }
                    }
                    for p in 0..<64 {
                        GEMM.multiply(m: cout, n: cin, k: tiles, a: dm + p * cout * tiles, lda: tiles, b: v + p * cin * tiles, ldb: tiles,
                                      transposeB: true, c: du + p * cout * cin, ldc: cin, beta: 1)
                    }
                }
            }
        }
        var gradient = [Float](repeating: 0, count: cout * cin * 27)
        workspace.withUnsafeBufferPointer { wsb in
            guard let wsBase = wsb.baseAddress else { return }
            var sum = [Float](repeating: 0, count: 64), s1 = [Float](repeating: 0, count: 48), s2 = [Float](repeating: 0, count: 36)
            for o in 0..<cout {
                for c in 0..<cin {
                    for p in 0..<64 {
                        var total: Float = 0
                        for worker in 0..<plan.workers {
                            total += wsBase[worker * perWorker + (perWorker - weights) + (p * cout + o) * cin + c]
                        }
                        sum[p] = total
                    }
                    untransformKernel(sum, into: &gradient, at: (o * cin + c) * 27, scratch: &s1, &s2)
                }
            }
        }
        return gradient
    }

    /// `Gᵀ u G` along each axis of a 4×4×4 block `u` (`Gᵀ` = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]), written as 3×3×3 at `offset`.
    static func untransformKernel(_ u: [Float], into g: inout [Float], at offset: Int, scratch s1: inout [Float], _ s2: inout [Float]) {
        @inline(__always) func gt(_ a: Float, _ b: Float, _ c: Float, _ e: Float) -> (Float, Float, Float) {
            (a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + e)
        }
        // s1[kz][ky][x], then s2[kz][y][x].
        for zy in 0..<16 {
            let t = gt(u[zy * 4], u[zy * 4 + 1], u[zy * 4 + 2], u[zy * 4 + 3])
            s1[zy * 3] = t.0; s1[zy * 3 + 1] = t.1; s1[zy * 3 + 2] = t.2
        }
        for z in 0..<4 {
            for x in 0..<3 {
                let t = gt(s1[(z * 4) * 3 + x], s1[(z * 4 + 1) * 3 + x], s1[(z * 4 + 2) * 3 + x], s1[(z * 4 + 3) * 3 + x])
                s2[(z * 3) * 3 + x] = t.0; s2[(z * 3 + 1) * 3 + x] = t.1; s2[(z * 3 + 2) * 3 + x] = t.2
            }
        }
        for yx in 0..<9 {
            let t = gt(s2[yx], s2[9 + yx], s2[18 + yx], s2[27 + yx])
            g[offset + yx] = t.0; g[offset + 9 + yx] = t.1; g[offset + 18 + yx] = t.2
        }
    }

    /// `dM = A dy Aᵀ` along each axis (`A` = [1 0; 1 1; 1 −1; 0 −1]) for one row of tiles of one output-gradient
    /// plane: writes `dM[p][tx]` at `into + p · positionStride + tx`; gradient outside the plane is zero.
    static func transformOutputGradient(_ plane: UnsafePointer<Float>, size: (Int, Int, Int), tileRow: (Int, Int), tilesW tW: Int,
                                        into dm: UnsafeMutablePointer<Float>, positionStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let (d, h, w) = size
        // xs[(oz·2 + oy)·4 + kx][tx], then ys[(oz·4 + ky)·4 + kx][tx].
        let xs = scratch, ys = scratch + 16 * tW
        for oz in 0..<2 {
            for oy in 0..<2 {
                let row = xs + ((oz * 2 + oy) * 4) * tW
                let (z, yy) = (2 * tileRow.0 + oz, 2 * tileRow.1 + oy)
                guard z < d, yy < h else {
                    row.update(repeating: 0, count: 4 * tW)
                    continue
                }
                let input = plane + (z * h + yy) * w
                let m0 = row, m1 = row + tW, m2 = row + 2 * tW, m3 = row + 3 * tW
                let pairs = w / 2
                var tx = 0
                while tx + 8 <= pairs {
                    let both = UnsafeRawPointer(input + 2 * tx).loadUnaligned(as: SIMD16<Float>.self)
                    let a = both.evenHalf, b = both.oddHalf
                    store8(a, m0 + tx); store8(a + b, m1 + tx); store8(a - b, m2 + tx); store8(-b, m3 + tx)
                    tx += 8
                }
                for t in tx..<tW {
                    let a = input[2 * t], b: Float = 2 * t + 1 < w ? input[2 * t + 1] : 0
                    m0[t] = a; m1[t] = a + b; m2[t] = a - b; m3[t] = -b
                }
            }
        }
        for oz in 0..<2 {
            for kx in 0..<4 {
                let a = xs + ((oz * 2) * 4 + kx) * tW, b = xs + ((oz * 2 + 1) * 4 + kx) * tW
                gradientStep(a, b, ys + ((oz * 4) * 4 + kx) * tW, ys + ((oz * 4 + 1) * 4 + kx) * tW,
                             ys + ((oz * 4 + 2) * 4 + kx) * tW, ys + ((oz * 4 + 3) * 4 + kx) * tW, count: tW)
            }
        }
        for j in 0..<16 {  // j = ky·4 + kx
            gradientStep(ys + j * tW, ys + (16 + j) * tW, dm + j * positionStride, dm + (16 + j) * positionStride,
                         dm + (32 + j) * positionStride, dm + (48 + j) * positionStride, count: tW)
        }
    }

    /// One axis of `A` over two rows: (a, a + b, a − b, −b), eight lanes at a time.
    @inline(__always)
    static func gradientStep(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ o0: UnsafeMutablePointer<Float>,
                             _ o1: UnsafeMutablePointer<Float>, _ o2: UnsafeMutablePointer<Float>, _ o3: UnsafeMutablePointer<Float>,
                             count: Int) {
        var i = 0
        while i + 8 <= count {
            let va = load8(a + i), vb = load8(b + i)
            store8(va, o0 + i); store8(va + vb, o1 + i); store8(va - vb, o2 + i); store8(-vb, o3 + i)
            i += 8
        }
        while i < count {
            let va = a[i], vb = b[i]
            o0[i] = va; o1[i] = va + vb; o2[i] = va - vb; o3[i] = -vb
            i += 1
        }
    }
}
