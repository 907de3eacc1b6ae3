import VoxelCore
import VoxelSupport

/// 3×3×3 convolutions with stride 1, padding 1 and dilation 1 by Winograd's minimal filtering F(2×2×2, 3×3×3).
///
/// Each 2×2×2 block of output (a *tile*) is computed from the 4×4×4 block of input around it. The input block is
/// transformed (`Bᵀ d B` along each axis), the kernel likewise (`G g Gᵀ`), and the 64 transformed positions are
/// 64 independent matrix products `M[p] = U[p] (Cout × Cin) · V[p] (Cin × tiles)` on `cblas_sgemm`; the inverse
/// transform (`Aᵀ m A`) turns each 4×4×4 block of `M` back into its 2×2×2 outputs. That is 64 multiplies for 8
/// outputs where the direct convolution needs 216: 3.4× less arithmetic, with transforms of additions only
/// (and halves in `G`). WinogradConvolutionTests holds the outputs to 2e-6 of their size against a direct sum in
/// Double.
///
/// Tiles are processed in blocks of whole tile rows whose transformed input and products fit a per-core
/// workspace, each core taking every k-th block (as `ConvolutionKernel.forward` does with im2col blocks).
enum WinogradConvolution {
    /// Below this many input or output channels the 64 products are too thin for sgemm to beat im2col.
    static let minimumChannels = 8
    /// Below this many 2×2×2 tiles (16³ has 512, 8³ only 64) the products are too narrow to amortise sgemm's
    /// packing of `U`, and im2col's row-split sgemm is faster (`voxelflow-bench layers --set nnunet`). The bound
    /// does not depend on the number of cores, so results do not either.
    static let minimumTiles = 256
    /// Bytes of transformed input and products per block (1 MB measured best of 0.5–4 MB with
    /// `voxelflow-bench layers --set nnunet`), but at least `minimumBlockTiles` tiles per block.
    static let workerBlockBytes = 1 << 20
    static let minimumBlockTiles = 128

    /// Whether a convolution of an input of spatial size `size` has the shape this kernel computes, and is large
    /// enough for it to pay.
    static func applies(geometry: ConvGeometry, groups: Int, inChannels: Int, outChannels: Int, size: [Int]) -> Bool {
        guard geometry.kernel == [3, 3, 3], geometry.stride == [1, 1, 1], geometry.padding == [1, 1, 1],
              geometry.dilation == [1, 1, 1], groups == 1, size.count == 3,
              inChannels >= minimumChannels, outChannels >= minimumChannels else { return false }
        return size.reduce(1) { $0 * (($1 + 1) / 2) } >= minimumTiles
    }

    /// `U[p][o][c]`, the kernel of output channel o and input channel c transformed by `G g Gᵀ` along each axis
    /// (`G` = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]); `weight` is `Cout × Cin × 3 × 3 × 3`. Output channels are shared
    /// out over the cores.
    static func transformedWeights(_ weight: UnsafePointer<Float>, outChannels cout: Int, inChannels cin: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 64 * cout * cin)
        u.withUnsafeMutableBufferPointer { ub in
            guard let base = ub.baseAddress else { return }
            let up = Shared(base), wp = Shared(weight)
            let parts = max(1, min(GEMM.workers, cout * cin / 64))
            let chunk = (cout + parts - 1) / parts
            Parallel.perform(parts) { part in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 36 + 48 + 64) { scratch in
                    guard let s1 = scratch.baseAddress else { return }
                    let s2 = s1 + 36, s3 = s2 + 48
                    for o in (part * chunk)..<min(cout, (part + 1) * chunk) {
                        for c in 0..<cin {
                            let g = wp.value + (o * cin + c) * 27
                            // Along W: g[z][y][0..<3] → s1[z][y][0..<4]
                            for zy in 0..<9 {
                                let a = g[zy * 3], b = g[zy * 3 + 1], e = g[zy * 3 + 2]
                                s1[zy * 4] = a; s1[zy * 4 + 1] = 0.5 * (a + b + e)
                                s1[zy * 4 + 2] = 0.5 * (a - b + e); s1[zy * 4 + 3] = e
                            }
                            // Along H: s1[z][0..<3][x] → s2[z][0..<4][x]
                            for z in 0..<3 {
                                for x in 0..<4 {
                                    let a = s1[z * 12 + x], b = s1[z * 12 + 4 + x], e = s1[z * 12 + 8 + x]
                                    s2[z * 16 + x] = a; s2[z * 16 + 4 + x] = 0.5 * (a + b + e)
                                    s2[z * 16 + 8 + x] = 0.5 * (a - b + e); s2[z * 16 + 12 + x] = e
                                }
                            }
                            // Along D: s2[0..<3][y][x] → s3[0..<4][y][x]
                            for yx in 0..<16 {
                                let a = s2[yx], b = s2[16 + yx], e = s2[32 + yx]
                                s3[yx] = a; s3[16 + yx] = 0.5 * (a + b + e); s3[32 + yx] = 0.5 * (a - b + e); s3[48 + yx] = e
                            }
                            let dst = up.value + o * cin + c
                            for p in 0..<64 { dst[p * cout * cin] = s3[p] }
                        }
                    }
                }
            }
        }
        return u
    }

    /// `y[n, o] = Σ_c weight[o, c] ⋆ x[n, c] + bias[o]` (cross-correlation, zero padding 1) for the channel planes
    /// `planes[n][c]` of size `size` (D, H, W); `transformed` comes from `transformedWeights`; `y` is
    /// `N × Cout × D × H × W` and every element of it is written.
    static func forward(planes: [[Shared<UnsafePointer<Float>>]], size: [Int], transformed: UnsafePointer<Float>,
                        outChannels cout: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        guard let cin = planes.first?.count, cin > 0 else { return }
        let plan = BlockPlan(size: size, channels: cin + cout)
        let (d, h, w) = (size[0], size[1], size[2])
        let (tH, tW, tileRows, rowsPerBlock, blocks) = (plan.tilesH, plan.tilesW, plan.tileRows, plan.rowsPerBlock, plan.blocks)
        let tilesPerBlock = rowsPerBlock * tW
        let activeWorkers = plan.workers
        // Per worker: V (64·Cin·T), M (64·Cout·T), and the row scratch of the transforms.
        let perWorker = 64 * (cin + cout) * tilesPerBlock + plan.scratch
        var workspace = [Float](repeating: 0, count: activeWorkers * perWorker)
        let us = Shared(transformed), ys = Shared(y), bs = bias.map { Shared($0) }
        let outSpatial = d * h * w
        workspace.withUnsafeMutableBufferPointer { wsb in
            guard let wsBase = wsb.baseAddress else { return }
            let base = Shared(wsBase)
            for (n, sources) in planes.enumerated() {
                let yn = Shared(ys.value + n * cout * outSpatial)
                Parallel.perform(activeWorkers) { worker in
                    let v = base.value + worker * perWorker
                    let m = v + 64 * cin * tilesPerBlock
                    let rowScratch = m + 64 * cout * tilesPerBlock
                    for block in stride(from: worker, to: blocks, by: activeWorkers) {
                        let r0 = block * rowsPerBlock, r1 = min(tileRows, r0 + rowsPerBlock)
                        let tiles = (r1 - r0) * tW
                        for c in 0..<cin {
                            for r in r0..<r1 {
                                transformInput(sources[c].value, size: (d, h, w), tileRow: (r / tH, r % tH), tilesW: tW,
                                               into: v + c * tiles + (r - r0) * tW, positionStride: cin * tiles, scratch: rowScratch)
                            }
                        }
                        for p in 0..<64 {
                            GEMM.multiply(m: cout, n: tiles, k: cin, a: us.value + p * cout * cin, lda: cin,
                                          b: v + p * cin * tiles, ldb: tiles, c: m + p * cout * tiles, ldc: tiles)
                        }
                        for o in 0..<cout {
                            let biasValue = bs.map { $0.value[o] } ?? 0
                            for r in r0..<r1 {
                                transformOutput(m + o * tiles + (r - r0) * tW, positionStride: cout * tiles, tilesW: tW,
                                                tileRow: (r / tH, r % tH), size: (d, h, w), bias: biasValue,
                                                into: yn.value + o * outSpatial, scratch: rowScratch)
                            }
                        }
                    }
                }
            }
        }
    }

    /// How the rows of tiles (all tiles along W at one tile depth and tile row) are cut into blocks, and how many
    /// cores take them: blocks of about `workerBlockBytes` of transformed values for `channels` (input plus output)
    /// channels, at least `minimumBlockTiles` tiles each, and at least one block per core.
    struct BlockPlan {
        let tilesH: Int, tilesW: Int, tileRows: Int, rowsPerBlock: Int, blocks: Int, workers: Int
        /// Floats of row scratch the transforms need per worker.
        var scratch: Int { 64 * tilesW * 2 }

        init(size: [Int], channels: Int) {
            let (tD, tH, tW) = ((size[0] + 1) / 2, (size[1] + 1) / 2, (size[2] + 1) / 2)
            let fitting = max(workerBlockBytes / (4 * 64 * channels * tW), (minimumBlockTiles + tW - 1) / tW, 1)
            let cores = GEMM.workers
            (tilesH, tilesW, tileRows) = (tH, tW, tD * tH)
            (rowsPerBlock, blocks) = balanced(rows: tD * tH, fitting: fitting, workers: cores)
            workers = max(1, min(cores, blocks))
        }
    }

    /// Tile rows per block so that a block fits `fitting` rows, with at least one block per worker when there are
    /// rows enough, and blocks of equal size.
    static func balanced(rows: Int, fitting: Int, workers: Int) -> (rowsPerBlock: Int, blocks: Int) {
        var blocks = (rows + fitting - 1) / fitting
        blocks = max(blocks, min(rows, workers))
        let perBlock = (rows + blocks - 1) / blocks
        return (perBlock, (rows + perBlock - 1) / perBlock)
    }

    /// Transforms the input blocks of one row of tiles (tile depth `tileRow.0`, tile row `tileRow.1`, all tiles
    /// along W) of one channel plane: writes `V[p][tx]` at `into + p · positionStride + tx`.
    /// `Bᵀ` = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]. Input outside the plane is zero (the padding).
    @inline(__always)
    static func transformInput(_ plane: UnsafePointer<Float>, size: (Int, Int, Int), tileRow: (Int, Int), tilesW tW: Int,
                               into v: UnsafeMutablePointer<Float>, positionStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let (d, h, w) = size
        // xs[(dz·4 + dy)·4 + kx][tx]: the rows transformed along W.
        let xs = scratch
        var present = 0  // bit dz·4 + dy: that input row lies inside the plane
        for dz in 0..<4 {
            let z = 2 * tileRow.0 - 1 + dz
            for dy in 0..<4 {
                let yy = 2 * tileRow.1 - 1 + dy
                guard z >= 0, z < d, yy >= 0, yy < h else { continue }
                present |= 1 << (dz * 4 + dy)
                let input = plane + (z * h + yy) * w
                let row = xs + (dz * 4 + dy) * 4 * tW
                let t0 = row, t1 = row + tW, t2 = row + 2 * tW, t3 = row + 3 * tW
                // Tile tx reads input columns 2tx − 1 … 2tx + 2; interior tiles read them without bounds checks.
                @inline(__always) func edge(_ tx: Int) {
                    @inline(__always) func at(_ x: Int) -> Float { x >= 0 && x < w ? input[x] : 0 }
                    let a = at(2 * tx - 1), b = at(2 * tx), c = at(2 * tx + 1), e = at(2 * tx + 2)
                    t0[tx] = a - c; t1[tx] = b + c; t2[tx] = c - b; t3[tx] = b - e
                }
                let interiorEnd = w >= 3 ? max(1, min(tW, (w - 3) / 2 + 1)) : 1
                edge(0)
                // Eight tiles at a time: their 18 input columns as two overlapping 16-lane loads, split into even
                // and odd lanes (columns 2tx − 1, 2tx and 2tx + 1, 2tx + 2 of each tile).
                var tx = 1
                while tx + 8 <= interiorEnd {
                    let q = UnsafeRawPointer(input + 2 * tx - 1)
                    let low = q.loadUnaligned(as: SIMD16<Float>.self), high = (q + 8).loadUnaligned(as: SIMD16<Float>.self)
                    let a = low.evenHalf, b = low.oddHalf, c = high.evenHalf, e = high.oddHalf
                    store8(a - c, t0 + tx); store8(b + c, t1 + tx); store8(c - b, t2 + tx); store8(b - e, t3 + tx)
                    tx += 8
                }
                for tx in tx..<interiorEnd {
                    let q = input + 2 * tx - 1
                    let a = q[0], b = q[1], c = q[2], e = q[3]
                    t0[tx] = a - c; t1[tx] = b + c; t2[tx] = c - b; t3[tx] = b - e
                }
                for tx in interiorEnd..<tW { edge(tx) }
            }
        }
        // Along H then D, for each kx: the four rows of each (dz, kx) combine into ky, then the four dz into kz.
        let ys = xs + 64 * tW  // ys[(dz·4 + ky)·4 + kx][tx]
        for dz in 0..<4 {
            for kx in 0..<4 {
                let r0 = xs + ((dz * 4) * 4 + kx) * tW, r1 = xs + ((dz * 4 + 1) * 4 + kx) * tW
                let r2 = xs + ((dz * 4 + 2) * 4 + kx) * tW, r3 = xs + ((dz * 4 + 3) * 4 + kx) * tW
                let o0 = ys + ((dz * 4) * 4 + kx) * tW, o1 = ys + ((dz * 4 + 1) * 4 + kx) * tW
                let o2 = ys + ((dz * 4 + 2) * 4 + kx) * tW, o3 = ys + ((dz * 4 + 3) * 4 + kx) * tW
                for dy in 0..<4 where present & (1 << (dz * 4 + dy)) == 0 {
                    (xs + ((dz * 4 + dy) * 4 + kx) * tW).update(repeating: 0, count: tW)
                }
                inputStep(r0, r1, r2, r3, o0, o1, o2, o3, count: tW)
            }
        }
        for j in 0..<16 {  // j = ky·4 + kx
            let a = ys + j * tW, b = ys + (16 + j) * tW, c = ys + (32 + j) * tW, e = ys + (48 + j) * tW
            let v0 = v + j * positionStride, v1 = v + (16 + j) * positionStride
            let v2 = v + (32 + j) * positionStride, v3 = v + (48 + j) * positionStride
            inputStep(a, b, c, e, v0, v1, v2, v3, count: tW)
        }
    }

    /// One axis of `Bᵀ` over four rows of `count` values: (a − c, b + c, c − b, b − e), eight lanes at a time.
    @inline(__always)
    static func inputStep(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ e: UnsafePointer<Float>,
                          _ o0: UnsafeMutablePointer<Float>, _ o1: UnsafeMutablePointer<Float>, _ o2: UnsafeMutablePointer<Float>,
                          _ o3: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let va = load8(a + i), vb = load8(b + i), vc = load8(c + i), ve = load8(e + i)
            store8(va - vc, o0 + i); store8(vb + vc, o1 + i); store8(vc - vb, o2 + i); store8(vb - ve, o3 + i)
            i += 8
        }
        while i < count {
            let va = a[i], vb = b[i], vc = c[i], ve = e[i]
            o0[i] = va - vc; o1[i] = vb + vc; o2[i] = vc - vb; o3[i] = vb - ve
            i += 1
        }
    }

    /// One axis of `Aᵀ` over four rows of `count` values: (a + b + c, b − c − e), eight lanes at a time.
    @inline(__always)
    static func outputStep(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ e: UnsafePointer<Float>,
                           _ o0: UnsafeMutablePointer<Float>, _ o1: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let vb = load8(b + i), vc = load8(c + i)
            store8(load8(a + i) + vb + vc, o0 + i); store8(vb - vc - load8(e + i), o1 + i)
            i += 8
        }
        while i < count {
            let vb = b[i], vc = c[i]
            o0[i] = a[i] + vb + vc; o1[i] = vb - vc - e[i]
            i += 1
        }
    }

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Turns the products `M[p][tx]` (at `m + p · positionStride + tx`) of one row of tiles of one output channel
    /// into its 2×2×2 outputs (`Aᵀ` = [1 1 1 0; 0 1 −1 −1]), adds `bias`, and writes those inside the volume.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, positionStride: Int, tilesW tW: Int, tileRow: (Int, Int),
                                size: (Int, Int, Int), bias: Float, into plane: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>) {
        let (d, h, w) = size
        // zs[(oz·16 + j)][tx] for j = ky·4 + kx, then ws[(oz·2 + oy)·4 + kx][tx].
        let zs = scratch, ws = scratch + 32 * tW
        for j in 0..<16 {
            let a = m + j * positionStride, b = m + (16 + j) * positionStride
            let c = m + (32 + j) * positionStride, e = m + (48 + j) * positionStride
            let z0 = zs + j * tW, z1 = zs + (16 + j) * tW
            outputStep(a, b, c, e, z0, z1, count: tW)
        }
        for oz in 0..<2 {
            for kx in 0..<4 {
                let a = zs + (oz * 16 + kx) * tW, b = zs + (oz * 16 + 4 + kx) * tW
                let c = zs + (oz * 16 + 8 + kx) * tW, e = zs + (oz * 16 + 12 + kx) * tW
                let w0 = ws + ((oz * 2) * 4 + kx) * tW, w1 = ws + ((oz * 2 + 1) * 4 + kx) * tW
                outputStep(a, b, c, e, w0, w1, count: tW)
            }
        }
        let fullPairs = w / 2
        for oz in 0..<2 {
            let z = 2 * tileRow.0 + oz
            guard z < d else { continue }
            for oy in 0..<2 {
                let yy = 2 * tileRow.1 + oy
                guard yy < h else { continue }
                let row = plane + (z * h + yy) * w
                let base = ws + ((oz * 2 + oy) * 4) * tW
                let a = base, b = base + tW, c = base + 2 * tW, e = base + 3 * tW
                for tx in 0..<fullPairs {
                    let bc = b[tx], cc = c[tx]
                    row[2 * tx] = a[tx] + bc + cc + bias
                    row[2 * tx + 1] = bc - cc - e[tx] + bias
                }
                if fullPairs < tW { row[2 * fullPairs] = a[fullPairs] + b[fullPairs] + c[fullPairs] + bias }
            }
        }
    }
}
