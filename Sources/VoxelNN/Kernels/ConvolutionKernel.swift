import VoxelCore
import Dispatch
import VoxelSupport

/// 3D convolution geometry: kernel, stride, padding and dilation along (D, H, W).
public struct ConvGeometry: Sendable, Equatable {
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: [Int]
    public var dilation: [Int]

    public init(kernel: [Int], stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1]) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    /// Output size of a convolution along each spatial axis (PyTorch's formula).
    public func outputSize(_ input: [Int]) -> [Int] {
        (0..<3).map { a in (input[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1 }
    }

    var taps: Int { kernel[0] * kernel[1] * kernel[2] }
}

/// Convolution kernels on `cblas_sgemm`: blocked im2col (forward) and col2im (transposed convolution).
/// Columns are built for a block of output positions at a time (at most `blockBytes`), so memory stays
/// small whatever the volume size; the workspace is reused from block to block.
enum ConvolutionKernel {
    static let blockBytes = 32 << 20
    /// Column workspace per worker in the forward convolution: small enough to stay in the caches between
    /// im2col writing it and sgemm reading it (1.5 MB measured best of 0.25–8 MB with `voxelflow-bench layers`).
    static let workerBlockBytes = 1536 << 10

    /// `output[n, g·Cout/G + o, p] = Σ_{c, tap} weight[g·Cout/G + o, c, tap] · input[n, g·Cin/G + c, p·stride + tap·dilation − padding]`.
    /// `weight` is `Cout × Cin/G × kD × kH × kW`; output is `N × Cout × oD × oH × oW`.
    ///
    /// The output's (depth, height) rows are cut into blocks whose im2col columns fit `workerBlockBytes`;
    /// each core takes every k-th block, fills its own workspace and runs a single-threaded sgemm on it,
    /// so the columns never leave the cache and no BLAS threads wait on each other.
    static func forward(input x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, groups: Int) -> Tensor {
        forward(inputs: [x], weight: weight, bias: bias, geometry: geometry, groups: groups)
    }

    /// `forward` on the channel concatenation of `inputs` (equal batch and spatial sizes), read in place:
    /// a decoder's [skip, upsampled] pair is never copied into one tensor.
    static func forward(inputs: [Tensor], weight: Tensor, bias: Tensor?, geometry: ConvGeometry, groups: Int) -> Tensor {
        let taps = geometry.taps
        let pointwise = taps == 1 && geometry.stride == [1, 1, 1] && geometry.padding == [0, 0, 0]
        if inputs.count > 1 && (pointwise || groups > 1), let joined = try? TensorOps.concatChannels(inputs) {
            return forward(inputs: [joined], weight: weight, bias: bias, geometry: geometry, groups: groups)
        }
        guard let x = inputs.first, inputs.allSatisfy({ $0.count > 0 }) else {
            return Tensor(zeros: [inputs.first?.shape[0] ?? 0, weight.shape[0]] + geometry.outputSize(Array((inputs.first?.shape ?? [0, 0, 0, 0, 0])[2...4])))
        }
        let n = x.shape[0], cin = inputs.reduce(0) { $0 + $1.shape[1] }
        let inSize = Array(x.shape[2...4])
        let outSize = geometry.outputSize(inSize)
        let cout = weight.shape[0]
        let cinG = cin / groups, coutG = cout / groups
        let rows = cinG * taps
        let outSpatial = outSize.reduce(1, *), inSpatial = inSize.reduce(1, *)
        // Every element is written by sgemm (beta 0).
        var y = Tensor(uninitialized: [n, cout] + outSize)
        if WinogradConvolution.applies(geometry: geometry, groups: groups, inChannels: cin, outChannels: cout, size: inSize) {
            winograd(inputs: inputs, weight: weight, bias: bias, into: &y)
            return y
        }
        let oW = outSize[2], outRows = outSize[0] * outSize[1]
        let (rowsPerBlock, blocks) = balancedBlocks(outRows: outRows, rowBytes: 4 * rows * oW)
        let workers = max(1, min(GEMM.workers, blocks))
        var columns = [Float](repeating: 0, count: workers * rows * rowsPerBlock * oW)
        let biasValues = bias?.data ?? []
        biasValues.withUnsafeBufferPointer { biasBuffer in
        let biasPointer = bias == nil ? nil : biasBuffer.baseAddress
        withPointers(inputs) { parts in
        withBuffers(x, weight, &y, &columns) { _, wb, yb, cb in
            for b in 0..<n {
                // The base of every input channel of sample b, across the parts.
                var channelBases: [Shared<UnsafePointer<Float>>] = []
                for (part, tensor) in zip(parts, inputs) {
                    let c = tensor.shape[1]
                    for ch in 0..<c { channelBases.append(Shared(part + (b * c + ch) * inSpatial)) }
                }
                for g in 0..<groups {
                    let sources = Array(channelBases[(g * cinG)..<((g + 1) * cinG)])
                    let yg = yb + (b * cout + g * coutG) * outSpatial
                    let wg = wb + g * coutG * rows
                    if pointwise {
                        GEMM.parallelMultiply(m: coutG, n: outSpatial, k: cinG, a: wg, lda: rows, b: sources[0].value, ldb: inSpatial, c: yg, ldc: outSpatial)
                        if let bp = biasPointer { addBias(bp + g * coutG, channels: coutG, to: yg, columns: outSpatial, ld: outSpatial) }
                        continue
                    }
                    let ws = Shared(wg), ys = Shared(yg), cs = Shared(cb)
                    let bs = biasPointer.map { Shared($0) }
                    Parallel.perform(workers) { worker in
                        let workspace = cs.value + worker * rows * rowsPerBlock * oW
                        for block in stride(from: worker, to: blocks, by: workers) {
                            let r0 = block * rowsPerBlock, r1 = min(outRows, r0 + rowsPerBlock)
                            let count = (r1 - r0) * oW
                            im2col(sources, inSize: inSize, outSize: outSize, geometry: geometry, rows: r0..<r1, into: workspace, ld: count)
                            GEMM.multiply(m: coutG, n: count, k: rows, a: ws.value, lda: rows, b: workspace, ldb: count,
                                          c: ys.value + r0 * oW, ldc: outSpatial)
                            // The block is still in cache: add the bias now rather than in another pass.
                            if let bp = bs?.value { addBias(bp + g * coutG, channels: coutG, to: ys.value + r0 * oW, columns: count, ld: outSpatial) }
                        }
                    }
                }
            }
        }
        }
        }
        return y
    }

    /// The Winograd path of `forward` (see `WinogradConvolution.applies`): output size equals input size.
    private static func winograd(inputs: [Tensor], weight: Tensor, bias: Tensor?, into y: inout Tensor) {
        let n = y.shape[0], cout = y.shape[1], cin = weight.shape[1]
        let size = Array(y.shape[2...4]), spatial = size.reduce(1, *)
        let transformed = weight.data.withUnsafeBufferPointer { wb in
            wb.baseAddress.map { WinogradConvolution.transformedWeights($0, outChannels: cout, inChannels: cin) } ?? []
        }
        let biasValues = bias?.data ?? []
        withPointers(inputs) { parts in
            let planes = (0..<n).map { b in
                zip(parts, inputs).flatMap { part, tensor in
                    (0..<tensor.shape[1]).map { ch in Shared(part + (b * tensor.shape[1] + ch) * spatial) }
                }
            }
            transformed.withUnsafeBufferPointer { ub in
                biasValues.withUnsafeBufferPointer { bb in
                    y.data.withUnsafeMutableBufferPointer { yb in
                        guard let u = ub.baseAddress, let yp = yb.baseAddress else { return }
                        WinogradConvolution.forward(planes: planes, size: size, transformed: u, outChannels: cout,
                                                    bias: bias == nil ? nil : bb.baseAddress, into: yp)
                    }
                }
            }
        }
    }

    /// Output rows per block so that a block's columns fit `workerBlockBytes`, evened out so that the blocks
    /// are of equal size (two blocks of 8 rows rather than 14 and 2, which would leave a core idle).
    static func balancedBlocks(outRows: Int, rowBytes: Int) -> (rowsPerBlock: Int, blocks: Int) {
        let fitting = max(1, min(outRows, workerBlockBytes / max(1, rowBytes)))
        var blocks = (outRows + fitting - 1) / fitting
        // At least one block per core when there are rows enough, so that no core waits.
        blocks = max(blocks, min(outRows, GEMM.workers))
        let rowsPerBlock = (outRows + blocks - 1) / blocks
        return (rowsPerBlock, (outRows + rowsPerBlock - 1) / rowsPerBlock)
    }

    /// Lends the storage of every tensor at once (pointers must not escape `body`); empty tensors lend none.
    static func withPointers<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
        func lend(_ i: Int, _ lent: [UnsafePointer<Float>]) -> R {
            guard i < tensors.count else { return body(lent) }
            return tensors[i].data.withUnsafeBufferPointer { buffer in
                lend(i + 1, lent + (buffer.baseAddress.map { [$0] } ?? []))
            }
        }
        return lend(0, [])
    }

    /// Adds `bias[o]` to columns 0..<columns of row o of a row-major block with leading dimension `ld`.
    static func addBias(_ bias: UnsafePointer<Float>, channels: Int, to c: UnsafeMutablePointer<Float>, columns: Int, ld: Int) {
        for o in 0..<channels {
            let v = bias[o], row = c + o * ld
            for q in 0..<columns { row[q] += v }
        }
    }

    /// Fills `columns[(c·taps + tap) · ld + q]` with the value of channel c (its plane starts at
    /// `sources[c]`) under tap `tap` for the
    /// q-th output position of the output rows `rows` (row r = depth r / oH, height r % oH; 0 in the
    /// padding). Each output row is a contiguous run of the input (strided by the W stride) between two
    /// zero-filled margins computed once.
    static func im2col(_ sources: [Shared<UnsafePointer<Float>>], inSize: [Int], outSize: [Int], geometry gm: ConvGeometry,
                       rows: Range<Int>, into columns: UnsafeMutablePointer<Float>, ld: Int) {
        let (iD, iH, iW) = (inSize[0], inSize[1], inSize[2])
        let (oH, oW) = (outSize[1], outSize[2])
        let (kD, kH, kW) = (gm.kernel[0], gm.kernel[1], gm.kernel[2])
        let (sD, sH, sW) = (gm.stride[0], gm.stride[1], gm.stride[2])
        var row = 0
        for source in sources {
            let xc = source.value
            for kd in 0..<kD { for kh in 0..<kH { for kw in 0..<kW {
                var dst = columns + row * ld
                let offD = kd * gm.dilation[0] - gm.padding[0], offH = kh * gm.dilation[1] - gm.padding[1], offW = kw * gm.dilation[2] - gm.padding[2]
                // Output columns whose input column is inside.
                let (lo, hi) = validRange(count: oW, stride: sW, offset: offW, limit: iW)
                for r in rows {
                    let d = (r / oH) * sD + offD, h = (r % oH) * sH + offH
                    if d < 0 || d >= iD || h < 0 || h >= iH || lo >= hi {
                        dst.update(repeating: 0, count: oW)
                    } else {
                        if lo > 0 { dst.update(repeating: 0, count: lo) }
                        let src = xc + (d * iH + h) * iW + offW
                        if sW == 1 {
                            (dst + lo).update(from: src + lo, count: hi - lo)
                        } else {
                            for ow in lo..<hi { dst[ow] = src[ow * sW] }
                        }
                        if hi < oW { (dst + hi).update(repeating: 0, count: oW - hi) }
                    }
                    dst += oW
                }
                row += 1
            } } }
        }
    }

    /// Transposed convolution (the gradient of `forward` with respect to its input): `weight` is
    /// `Cin × Cout/G × kD × kH × kW` (PyTorch's layout); output size (i − 1)·s − 2p + d·(k − 1) + outputPadding + 1.
    static func transposed(input x: Tensor, weight: Tensor, bias: Tensor?, geometry gm: ConvGeometry, outputPadding: [Int], groups: Int) -> Tensor {
        let (n, cin, inSpatial) = x.ncs
        let inSize = Array(x.shape[2...4])
        var outSize = [0, 0, 0]
        for a in 0..<3 {
            let span: Int = gm.dilation[a] * (gm.kernel[a] - 1)
            outSize[a] = (inSize[a] - 1) * gm.stride[a] - 2 * gm.padding[a] + span + outputPadding[a] + 1
        }
        let coutG = weight.shape[1], cout = coutG * groups, cinG = cin / groups
        let rows = coutG * gm.taps
        let outSpatial = outSize.reduce(1, *)
        var y = Tensor(zeros: [n, cout] + outSize)
        let inSlice = inSize[1] * inSize[2]
        let slicesPerBlock = max(1, min(inSize[0], blockBytes / 4 / max(1, rows * inSlice)))
        var columns = [Float](repeating: 0, count: rows * slicesPerBlock * inSlice)
        withBuffers(x, weight, &y, &columns) { xb, wb, yb, cb in
            for b in 0..<n {
                for g in 0..<groups {
                    let xg = xb + (b * cin + g * cinG) * inSpatial
                    let yg = yb + (b * cout + g * coutG) * outSpatial
                    let wg = wb + g * cinG * rows
                    var d0 = 0
                    while d0 < inSize[0] {
                        let d1 = min(inSize[0], d0 + slicesPerBlock)
                        let count = (d1 - d0) * inSlice
                        // columns (rows × count) = Wᵀ (rows × cinG) · x (cinG × count)
                        GEMM.parallelMultiply(m: rows, n: count, k: cinG, a: wg, lda: rows, transposeA: true, b: xg + d0 * inSlice, ldb: inSpatial,
                                              c: cb, ldc: count)
                        col2im(cb, channels: coutG, inSize: inSize, outSize: outSize, geometry: gm, depths: d0..<d1, ld: count, into: yg)
                        d0 = d1
                    }
                }
            }
        }
        if let bias { addBias(&y, bias) }
        return y
    }

    /// Scatter-adds columns into the output: the input position of depth slices `depths`, tap `tap` of
    /// channel `c` lands at output position input·stride + tap·dilation − padding. Channels run in parallel
    /// (each writes only its own output channel); rows are walked with their valid range computed once.
    static func col2im(_ columns: UnsafePointer<Float>, channels: Int, inSize: [Int], outSize: [Int], geometry gm: ConvGeometry,
                       depths: Range<Int>, ld: Int, into y: UnsafeMutablePointer<Float>) {
        let (iH, iW) = (inSize[1], inSize[2])
        let (oD, oH, oW) = (outSize[0], outSize[1], outSize[2])
        let (sD, sH, sW) = (gm.stride[0], gm.stride[1], gm.stride[2])
        let outSpatial = oD * oH * oW
        let cs = Shared(columns), ys = Shared(y)
        Parallel.perform(channels) { c in
            let yc = ys.value + c * outSpatial
            var row = c * gm.taps
            for kd in 0..<gm.kernel[0] { for kh in 0..<gm.kernel[1] { for kw in 0..<gm.kernel[2] {
                var src = cs.value + row * ld
                let offD = kd * gm.dilation[0] - gm.padding[0], offH = kh * gm.dilation[1] - gm.padding[1], offW = kw * gm.dilation[2] - gm.padding[2]
                // Input columns whose output column is inside.
                let (lo, hi) = validRange(count: iW, stride: sW, offset: offW, limit: oW)
                for id in depths {
                    let d = id * sD + offD
                    for ih in 0..<iH {
                        let h = ih * sH + offH
                        if d >= 0 && d < oD && h >= 0 && h < oH {
                            let dst = yc + (d * oH + h) * oW + offW
                            for iw in lo..<hi { dst[iw * sW] += src[iw] }
                        }
                        src += iW
                    }
                }
                row += 1
            } } }
        }
    }

    /// The indices q in 0..<count whose mapped position q·stride + offset lies in 0..<limit, as lo..<hi
    /// (the mapping is increasing, so they form one run).
    @inline(__always)
    static func validRange(count: Int, stride: Int, offset: Int, limit: Int) -> (Int, Int) {
        var lo = 0
        while lo < count && lo * stride + offset < 0 { lo += 1 }
        var hi = count
        while hi > lo && (hi - 1) * stride + offset >= limit { hi -= 1 }
        return (lo, hi)
    }

    /// Lends the input, weight, output and workspace buffers (which must not escape `body`).
    static func withBuffers(_ x: Tensor, _ w: Tensor, _ y: inout Tensor, _ columns: inout [Float],
                            _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        x.data.withUnsafeBufferPointer { xp in
            w.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    columns.withUnsafeMutableBufferPointer { cp in
                        guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress, let cb = cp.baseAddress else { return }
                        body(xb, wb, yb, cb)
                    }
                }
            }
        }
    }

    /// Adds `bias[c]` to every value of channel c of an NCDHW tensor.
    static func addBias(_ y: inout Tensor, _ bias: Tensor) {
        let (n, c, s) = y.ncs
        bias.data.withUnsafeBufferPointer { bp in
            y.data.withUnsafeMutableBufferPointer { p in
                guard let b0 = bp.baseAddress, let y0 = p.baseAddress else { return }
                for b in 0..<n { addBias(b0, channels: c, to: y0 + b * c * s, columns: s, ld: s) }
            }
        }
    }
}

