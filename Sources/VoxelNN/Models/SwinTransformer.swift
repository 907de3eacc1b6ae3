import Foundation
import VoxelCore
import VoxelSupport

/// Voxels as tokens: one row of `channels` features per voxel of a `dims` (D, H, W) grid, rows in D, H, W order
/// (PyTorch's `b d h w c` layout of one sample). The Swin encoder works on these.
struct TokenGrid: Sendable {
    var dims: [Int]
    var channels: Int
    var data: [Float]

    var count: Int { dims[0] * dims[1] * dims[2] }

    init(dims: [Int], channels: Int, data: [Float]) {
        self.dims = dims
        self.channels = channels
        self.data = data
    }

    /// Sample `b` of an `N × C × D × H × W` tensor.
    init(_ x: Tensor, sample b: Int) {
        let c = x.shape[1], dims = Array(x.shape[2...]), s = dims.reduce(1, *)
        var out = [Float](repeating: 0, count: s * c)
        x.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let sp = src.baseAddress, let dp = dst.baseAddress else { return }
                let from = Shared(sp + b * c * s), to = Shared(dp)
                let chunk = 4096
                Parallel.perform((s + chunk - 1) / chunk) { part in
                    let start = part * chunk, end = min(s, start + chunk)
                    for ch in 0..<c {
                        let plane = from.value + ch * s
                        for i in start..<end { to.value[i * c + ch] = plane[i] }
                    }
                }
            }
        }
        self.init(dims: dims, channels: c, data: out)
    }

    /// Writes the grid into sample `b` of `y` (`N × channels × D × H × W`).
    func write(into y: inout Tensor, sample b: Int) {
        let c = channels, s = count
        data.withUnsafeBufferPointer { src in
            y.data.withUnsafeMutableBufferPointer { dst in
                guard let sp = src.baseAddress, let dp = dst.baseAddress else { return }
                let from = Shared(sp), to = Shared(dp + b * c * s)
                let chunk = 4096
                Parallel.perform((s + chunk - 1) / chunk) { part in
                    let start = part * chunk, end = min(s, start + chunk)
                    for ch in 0..<c {
                        let plane = to.value + ch * s
                        for i in start..<end { plane[i] = from.value[i * c + ch] }
                    }
                }
            }
        }
    }

    /// Grids of every sample as one `N × channels × D × H × W` tensor.
    static func tensor(_ grids: [TokenGrid]) -> Tensor {
        guard let first = grids.first else { return Tensor(zeros: [0]) }
        var y = Tensor(zeros: [grids.count, first.channels] + first.dims)
        for (b, g) in grids.enumerated() { g.write(into: &y, sample: b) }
        return y
    }
}

/// `torch.nn.LayerNorm` over the features of each token (biased variance, `eps` 1e-5), with or without its affine
/// parameters (`weight`, `bias`).
struct TokenLayerNorm: Sendable {
    var weight: Tensor?, bias: Tensor?
    let channels: Int
    var eps: Float = 1e-5

    init(channels: Int, affine: Bool = true) {
        self.channels = channels
        if affine {
            weight = Tensor(repeating: 1, shape: [channels])
            bias = Tensor(zeros: [channels])
        }
    }

    var parameterNames: [String] { weight == nil ? [] : ["weight", "bias"] }

    mutating func load(from w: Safetensors, prefix: String) throws {
        guard weight != nil else { return }
        weight = try w.tensor(prefix + "weight", shape: [channels])
        bias = try w.tensor(prefix + "bias", shape: [channels])
    }

    /// The normalised tokens (a new array).
    func forward(_ x: TokenGrid) -> TokenGrid {
        var y = x
        apply(&y.data, rows: x.count)
        return y
    }

    func apply(_ data: inout [Float], rows: Int) {
        let c = channels, eps = eps
        let w = weight?.data, b = bias?.data
        data.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let shared = Shared(base)
            let chunk = 1024
            Parallel.perform((rows + chunk - 1) / chunk) { part in
                for r in (part * chunk)..<min(rows, part * chunk + chunk) {
                    let p = shared.value + r * c
                    var mean: Float = 0
                    for i in 0..<c { mean += p[i] }
                    mean /= Float(c)
                    var variance: Float = 0
                    for i in 0..<c { let d = p[i] - mean; variance += d * d }
                    let inv = 1 / (variance / Float(c) + eps).squareRoot()
                    if let w, let b {
                        for i in 0..<c { p[i] = (p[i] - mean) * inv * w[i] + b[i] }
                    } else {
                        for i in 0..<c { p[i] = (p[i] - mean) * inv }
                    }
                }
            }
        }
    }
}

/// A `torch.nn.Linear` applied to every token: `y = x·Wᵀ + b`, rows split over the cores.
struct TokenLinear: Sendable {
    var weight: Tensor
    var bias: Tensor?
    let inFeatures: Int, outFeatures: Int

    init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
    }

    func parameterNames(under p: String) -> [String] { bias == nil ? [p + "weight"] : [p + "weight", p + "bias"] }

    mutating func load(from w: Safetensors, prefix: String) throws {
        weight = try w.tensor(prefix + "weight", shape: [outFeatures, inFeatures])
        if bias != nil { bias = try w.tensor(prefix + "bias", shape: [outFeatures]) }
    }

    /// `rows × outFeatures` outputs of `rows × inFeatures` inputs.
    func forward(_ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        let n = outFeatures, k = inFeatures
        let workers = GEMM.workers
        let chunk = max(64, (rows + workers - 1) / workers)
        x.withUnsafeBufferPointer { xb in
            weight.data.withUnsafeBufferPointer { wb in
                y.withUnsafeMutableBufferPointer { yb in
                    guard let xp = xb.baseAddress, let wp = wb.baseAddress, let yp = yb.baseAddress else { return }
                    let a = Shared(xp), w = Shared(wp), c = Shared(yp)
                    Parallel.perform((rows + chunk - 1) / chunk) { part in
                        let start = part * chunk, end = min(rows, start + chunk)
                        GEMM.multiply(m: end - start, n: n, k: k, a: a.value + start * k, lda: k, b: w.value, ldb: k, transposeB: true,
                                      c: c.value + start * n, ldc: n)
                    }
                }
            }
        }
        if let bias {
            let bv = bias.data
            y.withUnsafeMutableBufferPointer { yb in
                guard let base = yb.baseAddress else { return }
                let shared = Shared(base)
                Parallel.perform((rows + 4095) / 4096) { part in
                    for r in (part * 4096)..<min(rows, part * 4096 + 4096) {
                        let p = shared.value + r * n
                        for i in 0..<n { p[i] += bv[i] }
                    }
                }
            }
        }
        return y
    }
}

/// Vectorised elementwise functions of the attention and MLP layers.
enum TokenMath {
    /// `exp` of eight lanes (inputs at or below 0, as after subtracting a row's maximum): range reduction to
    /// `2^n · e^r` with `|r| ≤ ln 2 / 2` and a degree-7 polynomial, within 2 float ulps of the exact value (a test checks).
    @inline(__always) static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.replacing(with: -87.3, where: x .< -87.3)
        // Rounding by adding 1.5·2^23: the sum's low mantissa bits hold the nearest integer n.
        let magic = clamped * 1.442_695_04 + 12_582_912
        let n = magic - 12_582_912
        // ln 2 in two parts, the first exact in few bits, so that n · 0.693359375 has no rounding error.
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p: SIMD8<Float> = SIMD8(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let shifted = unsafeBitCast(magic, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return p * unsafeBitCast((shifted &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    /// Softmax of each of `rows` rows of `length` values in place.
    static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, length: Int) {
        let whole = length & ~7
        for r in 0..<rows {
            let row = p + r * length
            var mv = SIMD8<Float>(repeating: -.infinity)
            var j = 0
            while j < whole {
                let v = load(row + j)
                mv.replace(with: v, where: v .> mv)
                j += 8
            }
            var m = mv.max()
            for k in whole..<length { m = max(m, row[k]) }
            let ms = SIMD8<Float>(repeating: m)
            var acc = SIMD8<Float>(repeating: 0)
            j = 0
            while j < whole {
                let e = exp8(load(row + j) - ms)
                store(e, row + j)
                acc += e
                j += 8
            }
            var sum = acc.sum()
            for k in whole..<length {
                let e = Foundation.exp(row[k] - m)
                row[k] = e
                sum += e
            }
            let inv = 1 / sum, iv = SIMD8<Float>(repeating: inv)
            j = 0
            while j < whole { store(load(row + j) * iv, row + j); j += 8 }
            for k in whole..<length { row[k] *= inv }
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load(UnsafePointer(p)) }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// PyTorch's exact GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, in place.
    static func gelu(_ data: inout [Float]) {
        let count = data.count
        data.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let shared = Shared(base)
            let chunk = 1 << 14
            Parallel.perform((count + chunk - 1) / chunk) { part in
                for i in (part * chunk)..<min(count, part * chunk + chunk) {
                    let v = shared.value[i]
                    shared.value[i] = 0.5 * v * (1 + erff(v * 0.707_106_77))
                }
            }
        }
    }
}

/// Window sizes and shifts as MONAI's `get_window_size` gives them for a grid: along an axis no longer than the
/// window, the window is the axis and there is no shift.
struct SwinWindows: Sendable, Equatable {
    let size: [Int], shift: [Int]

    init(grid: [Int], window: [Int], shift: [Int]) {
        size = (0..<3).map { grid[$0] <= window[$0] ? grid[$0] : window[$0] }
        self.shift = (0..<3).map { grid[$0] <= window[$0] ? 0 : shift[$0] }
    }

    var shifted: Bool { shift.contains { $0 > 0 } }
    var tokens: Int { size[0] * size[1] * size[2] }
}

/// MONAI's `SwinTransformerBlock` (3D): `x + attention(norm1(x))` over (shifted) windows, then `x + mlp(norm2(x))`.
///
/// Attention is windowed multi-head self-attention with a learned relative-position bias. Tokens are padded at the
/// end of each axis to whole windows (padding tokens are zero vectors after the norm, so they enter as keys with
/// the qkv bias), shifted blocks roll the grid by half a window and mask pairs of tokens from different regions
/// with −100, as MONAI's `compute_mask`. Where the window shrinks to the grid, the bias reads the first n × n
/// entries of the full window's index table, as MONAI does.
struct SwinBlock: Sendable {
    var norm1: TokenLayerNorm, norm2: TokenLayerNorm
    var qkv: TokenLinear, proj: TokenLinear
    var fc1: TokenLinear, fc2: TokenLinear
    /// `(2w₀−1)(2w₁−1)(2w₂−1) × heads`.
    var biasTable: Tensor
    let channels: Int, heads: Int
    let window: [Int], shift: [Int]

    init(channels: Int, heads: Int, window: [Int], shifted: Bool, mlpRatio: Double, qkvBias: Bool) {
        self.channels = channels
        self.heads = heads
        self.window = window
        shift = shifted ? window.map { $0 / 2 } : [0, 0, 0]
        norm1 = TokenLayerNorm(channels: channels)
        norm2 = TokenLayerNorm(channels: channels)
        qkv = TokenLinear(channels, 3 * channels, bias: qkvBias)
        proj = TokenLinear(channels, channels)
        let hidden = Int(Double(channels) * mlpRatio)
        fc1 = TokenLinear(channels, hidden)
        fc2 = TokenLinear(hidden, channels)
        biasTable = Tensor(zeros: [(2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1), heads])
    }

    func parameterNames(_ p: String) -> [String] {
        norm1.parameterNames.map { p + "norm1." + $0 } + [p + "attn.relative_position_bias_table"]
            + qkv.parameterNames(under: p + "attn.qkv.") + proj.parameterNames(under: p + "attn.proj.")
            + norm2.parameterNames.map { p + "norm2." + $0 } + fc1.parameterNames(under: p + "mlp.linear1.")
            + fc2.parameterNames(under: p + "mlp.linear2.")
    }

    mutating func load(from w: Safetensors, prefix p: String) throws {
        try norm1.load(from: w, prefix: p + "norm1.")
        biasTable = try w.tensor(p + "attn.relative_position_bias_table", shape: biasTable.shape)
        try qkv.load(from: w, prefix: p + "attn.qkv.")
        try proj.load(from: w, prefix: p + "attn.proj.")
        try norm2.load(from: w, prefix: p + "norm2.")
        try fc1.load(from: w, prefix: p + "mlp.linear1.")
        try fc2.load(from: w, prefix: p + "mlp.linear2.")
    }

    /// MONAI's `relative_position_index[i][j]` of the full window, for token numbers `i, j` of that window.
    @inline(__always) func relativeIndex(_ i: Int, _ j: Int) -> Int {
        let w0 = window[0], w1 = window[1], w2 = window[2]
        let di = i / (w1 * w2), hi = (i / w2) % w1, wi = i % w2
        let dj = j / (w1 * w2), hj = (j / w2) % w1, wj = j % w2
        return (di - dj + w0 - 1) * (2 * w1 - 1) * (2 * w2 - 1) + (hi - hj + w1 - 1) * (2 * w2 - 1) + (wi - wj + w2 - 1)
    }

    /// Region numbers along one axis of `length` (padded) as MONAI's `compute_mask` assigns them with Python slices
    /// `[:-w]`, `[-w:-s]`, `[-s:]` (later slices overwrite earlier ones).
    static func regions(length: Int, window: Int, shift: Int) -> [Int] {
        func from(_ k: Int) -> Int { k == 0 ? 0 : max(0, length - k) }
        let slices = [(0, from(window)), (from(window), shift == 0 ? 0 : from(shift)), (from(shift), length)]
        return (0..<length).map { a in slices.indices.last(where: { slices[$0].0 <= a && a < slices[$0].1 }) ?? 0 }
    }

    func forward(_ x: TokenGrid) -> TokenGrid {
        var y = x
        let attended = attention(norm1.forward(x))
        add(&y.data, proj.forward(attended, rows: x.count))
        var h = fc1.forward(norm2.forward(y).data, rows: y.count)
        TokenMath.gelu(&h)
        add(&y.data, fc2.forward(h, rows: y.count))
        return y
    }

    private func add(_ y: inout [Float], _ b: [Float]) {
        let count = y.count
        y.withUnsafeMutableBufferPointer { yb in
            b.withUnsafeBufferPointer { bb in
                guard let yp = yb.baseAddress, let bp = bb.baseAddress else { return }
                let ys = Shared(yp), bs = Shared(bp)
                let chunk = 1 << 15
                Parallel.perform((count + chunk - 1) / chunk) { part in
                    for i in (part * chunk)..<min(count, part * chunk + chunk) { ys.value[i] += bs.value[i] }
                }
            }
        }
    }

    /// The heads' outputs for every token (before `proj`), `count × channels`.
    func attention(_ xn: TokenGrid) -> [Float] {
        let dims = xn.dims, c = channels, hd = c / heads
        let win = SwinWindows(grid: dims, window: window, shift: shift)
        let ws = win.size, sh = win.shift, n = win.tokens
        let padded = (0..<3).map { (dims[$0] + ws[$0] - 1) / ws[$0] * ws[$0] }
        let counts = (0..<3).map { padded[$0] / ws[$0] }
        let qkvRows = qkv.forward(xn.data, rows: xn.count)
        let zeroRow = qkv.bias?.data ?? [Float](repeating: 0, count: 3 * c)

        // The bias each head adds to the scores of token pairs in a window, and the region of each token for masks.
        var pairBias = [Float](repeating: 0, count: heads * n * n)
        let table = biasTable.data
        for i in 0..<n {
            for j in 0..<n {
                let row = relativeIndex(i, j) * heads
                for h in 0..<heads { pairBias[(h * n + i) * n + j] = table[row + h] }
            }
        }
        let bias = pairBias
        let regions = win.shifted ? (0..<3).map { Self.regions(length: padded[$0], window: ws[$0], shift: sh[$0]) } : []
        let scale = 1 / Float(hd).squareRoot()
        var out = [Float](repeating: 0, count: xn.count * c)
        let windowCount = counts[0] * counts[1] * counts[2]

        qkvRows.withUnsafeBufferPointer { qb in
            out.withUnsafeMutableBufferPointer { ob in
                guard let qp = qb.baseAddress, let op = ob.baseAddress else { return }
                let source = Shared(qp), target = Shared(op)
                Parallel.perform(windowCount) { w in
                    let wd = w / (counts[1] * counts[2]), wh = (w / counts[2]) % counts[1], ww = w % counts[2]
                    // Where each token of the window comes from in the unshifted grid (-1: padding).
                    var rows = [Int](repeating: -1, count: n)
                    var region = [Int](repeating: 0, count: n)
                    for t in 0..<n {
                        let td = t / (ws[1] * ws[2]), th = (t / ws[2]) % ws[1], tw = t % ws[2]
                        let sd = wd * ws[0] + td, shh = wh * ws[1] + th, sw = ww * ws[2] + tw
                        let od = (sd + sh[0]) % padded[0], oh = (shh + sh[1]) % padded[1], ow = (sw + sh[2]) % padded[2]
                        if od < dims[0], oh < dims[1], ow < dims[2] { rows[t] = (od * dims[1] + oh) * dims[2] + ow }
                        if win.shifted { region[t] = regions[0][sd] * 9 + regions[1][shh] * 3 + regions[2][sw] }
                    }
                    // −100 between tokens of different regions (shifted windows), added to every head's scores.
                    var mask: [Float] = []
                    if win.shifted {
                        mask = [Float](repeating: 0, count: n * n)
                        for i in 0..<n { for j in 0..<n where region[i] != region[j] { mask[i * n + j] = -100 } }
                    }
                    var q = [Float](repeating: 0, count: n * hd), k = q, v = q
                    var scores = [Float](repeating: 0, count: n * n)
                    var o = [Float](repeating: 0, count: n * hd)
                    zeroRow.withUnsafeBufferPointer { zb in
                        guard let zp = zb.baseAddress else { return }
                        for h in 0..<heads {
                            for t in 0..<n {
                                let src = rows[t] >= 0 ? source.value + rows[t] * 3 * c : zp
                                for e in 0..<hd {
                                    q[t * hd + e] = src[h * hd + e]
                                    k[t * hd + e] = src[c + h * hd + e]
                                    v[t * hd + e] = src[2 * c + h * hd + e]
                                }
                            }
                            q.withUnsafeBufferPointer { qb in
                                k.withUnsafeBufferPointer { kb in
                                    scores.withUnsafeMutableBufferPointer { sb in
                                        guard let qp = qb.baseAddress, let kp = kb.baseAddress, let sp = sb.baseAddress else { return }
                                        GEMM.multiply(m: n, n: n, k: hd, a: qp, lda: hd, b: kp, ldb: hd, transposeB: true, c: sp, ldc: n, alpha: scale)
                                        bias.withUnsafeBufferPointer { bb in
                                            guard let bp = bb.baseAddress else { return }
                                            let hb = bp + h * n * n
                                            for i in 0..<(n * n) { sp[i] += hb[i] }
                                        }
                                        if win.shifted { for i in 0..<(n * n) { sp[i] += mask[i] } }
                                        TokenMath.softmaxRows(sp, rows: n, length: n)
                                    }
                                }
                            }
                            scores.withUnsafeBufferPointer { sb in
                                v.withUnsafeBufferPointer { vb in
                                    o.withUnsafeMutableBufferPointer { ob in
                                        guard let sp = sb.baseAddress, let vp = vb.baseAddress, let op = ob.baseAddress else { return }
                                        GEMM.multiply(m: n, n: hd, k: n, a: sp, lda: n, b: vp, ldb: hd, c: op, ldc: hd)
                                    }
                                }
                            }
                            for t in 0..<n where rows[t] >= 0 {
                                let dst = target.value + rows[t] * c + h * hd
                                for e in 0..<hd { dst[e] = o[t * hd + e] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// MONAI's `PatchMerging` ("merging") and `PatchMergingV2` ("mergingv2"): the 8 voxels of each 2×2×2 cell (odd sizes
/// padded with zeros at the end) concatenated in the version's order, LayerNorm(8C), then a bias-free Linear to 2C.
struct SwinPatchMerging: Sendable {
    var norm: TokenLayerNorm
    var reduction: TokenLinear
    let channels: Int
    /// The (d, h, w) offsets in concatenation order.
    let offsets: [(Int, Int, Int)]

    init(channels: Int, version2: Bool) {
        self.channels = channels
        norm = TokenLayerNorm(channels: 8 * channels)
        reduction = TokenLinear(8 * channels, 2 * channels, bias: false)
        offsets = version2
            ? [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]
            : [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
    }

    func parameterNames(_ p: String) -> [String] {
        norm.parameterNames.map { p + "norm." + $0 } + reduction.parameterNames(under: p + "reduction.")
    }

    mutating func load(from w: Safetensors, prefix p: String) throws {
        try norm.load(from: w, prefix: p + "norm.")
        try reduction.load(from: w, prefix: p + "reduction.")
    }

    func forward(_ x: TokenGrid) -> TokenGrid {
        let d = x.dims, c = channels
        let half = d.map { ($0 + 1) / 2 }
        let rows = half[0] * half[1] * half[2]
        var cat = [Float](repeating: 0, count: rows * 8 * c)
        for od in 0..<half[0] {
            for oh in 0..<half[1] {
                for ow in 0..<half[2] {
                    let r = (od * half[1] + oh) * half[2] + ow
                    for (part, (a, b, e)) in offsets.enumerated() {
                        let sd = 2 * od + a, shh = 2 * oh + b, sw = 2 * ow + e
                        guard sd < d[0], shh < d[1], sw < d[2] else { continue }
                        let src = ((sd * d[1] + shh) * d[2] + sw) * c, dst = r * 8 * c + part * c
                        for i in 0..<c { cat[dst + i] = x.data[src + i] }
                    }
                }
            }
        }
        norm.apply(&cat, rows: rows)
        return TokenGrid(dims: half, channels: 2 * c, data: reduction.forward(cat, rows: rows))
    }
}
