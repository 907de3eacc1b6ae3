import VoxelSupport

/// The backward passes of the convolution kernels, on the same blocked im2col and sgemm as the forward pass.
extension ConvolutionKernel {
    /// The gradient of `forward` with respect to its input: the transposed convolution of `outputGradient`
    /// with the same weight, sized back to the input's spatial size `inputSize`.
    static func inputGradient(outputGradient dy: Tensor, weight: Tensor, geometry gm: ConvGeometry, groups: Int, inputSize: [Int]) -> Tensor {
        let outSize = Array(dy.shape[2...4])
        // Stride 1: the transposed convolution is a convolution with the kernel flipped and its in/out channels
        // swapped, padded by d·(k − 1) − p, which runs on the forward pass's cache-blocked im2col instead of a
        // column buffer 27× the output and a scatter.
        let flippedPadding = (0..<3).map { gm.dilation[$0] * (gm.kernel[$0] - 1) - gm.padding[$0] }
        if gm.stride == [1, 1, 1], flippedPadding.allSatisfy({ $0 >= 0 }) {
            let flipped = ConvGeometry(kernel: gm.kernel, stride: [1, 1, 1], padding: flippedPadding, dilation: gm.dilation)
            return forward(input: dy, weight: flippedTransposed(weight, groups: groups), bias: nil, geometry: flipped, groups: groups)
        }
        var padding = [0, 0, 0]
        for a in 0..<3 {
            let span: Int = gm.dilation[a] * (gm.kernel[a] - 1)
            let reached: Int = (outSize[a] - 1) * gm.stride[a] - 2 * gm.padding[a] + span + 1
            padding[a] = inputSize[a] - reached
        }
        return transposed(input: dy, weight: weight, bias: nil, geometry: gm, outputPadding: padding, groups: groups)
    }

    /// A convolution weight `Cout × Cin/G × k` turned into `Cin × Cout/G × k` with every kernel reversed:
    /// `out[g·Cin/G + c, o, tap] = weight[g·Cout/G + o, c, taps − 1 − tap]`.
    static func flippedTransposed(_ weight: Tensor, groups: Int) -> Tensor {
        let cout = weight.shape[0], cinG = weight.shape[1], coutG = cout / groups
        let taps = weight.shape[2...].reduce(1, *)
        var out = Tensor(zeros: [cinG * groups, coutG] + Array(weight.shape[2...]))
        for g in 0..<groups {
            for o in 0..<coutG {
                for c in 0..<cinG {
                    let src = ((g * coutG + o) * cinG + c) * taps, dst = ((g * cinG + c) * coutG + o) * taps
                    for t in 0..<taps { out.data[dst + t] = weight.data[src + taps - 1 - t] }
                }
            }
        }
        return out
    }

    /// The gradient of `forward` with respect to its weight, `Cout × Cin/G × kD × kH × kW`:
    /// `∂W[o, c, tap] = Σ_{n, p} outputGradient[n, o, p] · im2col(input)[n, c·taps + tap, p]`.
    ///
    /// The output positions are cut into the forward pass's cache-sized blocks; each core fills its own
    /// column workspace and accumulates into its own copy of the gradient, and the copies are summed at
    /// the end (so the result does not depend on thread timing beyond float addition order per worker).
    static func weightGradient(input x: Tensor, outputGradient dy: Tensor, geometry: ConvGeometry, groups: Int) -> Tensor {
        let n = x.shape[0], cin = x.shape[1], cout = dy.shape[1]
        let inSize = Array(x.shape[2...4]), outSize = Array(dy.shape[2...4])
        let cinG = cin / groups, coutG = cout / groups
        let rows = cinG * geometry.taps
        let inSpatial = inSize.reduce(1, *), outSpatial = outSize.reduce(1, *)
        if WinogradConvolution.applies(geometry: geometry, groups: groups, inChannels: cin, outChannels: cout, size: inSize) {
            var gradient = Tensor(zeros: [cout, cin] + geometry.kernel)
            x.data.withUnsafeBufferPointer { xp in
                dy.data.withUnsafeBufferPointer { dp in
                    guard let xb = xp.baseAddress, let db = dp.baseAddress else { return }
                    let inputs = (0..<n).map { b in (0..<cin).map { Shared(xb + (b * cin + $0) * inSpatial) } }
                    let gradients = (0..<n).map { b in (0..<cout).map { Shared(db + (b * cout + $0) * outSpatial) } }
                    gradient.data = WinogradConvolution.weightGradient(inputs: inputs, outputGradients: gradients, size: inSize)
                }
            }
            return gradient
        }
        let oW = outSize[2], outRows = outSize[0] * outSize[1]
        let (rowsPerBlock, blocks) = balancedBlocks(outRows: outRows, rowBytes: 4 * rows * oW)
        let workers = max(1, min(GEMM.workers, blocks * n * groups))
        let weightCount = cout * rows
        var partials = [Float](repeating: 0, count: workers * weightCount)
        var columns = [Float](repeating: 0, count: workers * rows * rowsPerBlock * oW)
        x.data.withUnsafeBufferPointer { xp in
        dy.data.withUnsafeBufferPointer { dp in
        partials.withUnsafeMutableBufferPointer { pp in
        columns.withUnsafeMutableBufferPointer { cp in
            guard let xb = xp.baseAddress, let db = dp.baseAddress, let pb = pp.baseAddress, let cb = cp.baseAddress else { return }
            let xs = Shared(xb), ds = Shared(db), ps = Shared(pb), cs = Shared(cb)
            // Jobs are (sample, group, block) triples dealt round-robin to the workers.
            let jobs = n * groups * blocks
            Parallel.perform(workers) { worker in
                let workspace = cs.value + worker * rows * rowsPerBlock * oW
                let accumulator = ps.value + worker * weightCount
                for job in stride(from: worker, to: jobs, by: workers) {
                    let block = job % blocks, g = (job / blocks) % groups, b = job / (blocks * groups)
                    let sources = (0..<cinG).map { Shared(UnsafePointer(xs.value + (b * cin + g * cinG + $0) * inSpatial)) }
                    let r0 = block * rowsPerBlock, r1 = min(outRows, r0 + rowsPerBlock)
                    let count = (r1 - r0) * oW
                    im2col(sources, inSize: inSize, outSize: outSize, geometry: geometry, rows: r0..<r1, into: workspace, ld: count)
                    GEMM.multiply(m: coutG, n: rows, k: count, a: ds.value + (b * cout + g * coutG) * outSpatial + r0 * oW, lda: outSpatial,
                                  b: workspace, ldb: count, transposeB: true, c: accumulator + g * coutG * rows, ldc: rows, beta: 1)
                }
            }
        }
        }
        }
        }
        var gradient = Tensor(zeros: [cout, cinG] + geometry.kernel)
        for w in 0..<workers {
            let base = w * weightCount
            for i in 0..<weightCount { gradient.data[i] += partials[base + i] }
        }
        return gradient
    }

    /// The gradient of a per-channel bias: the sum of `outputGradient` over the batch and every position.
    static func biasGradient(outputGradient dy: Tensor) -> Tensor {
        let (n, c, s) = dy.ncs
        var gradient = Tensor(zeros: [c])
        dy.data.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for b in 0..<n {
                for ch in 0..<c {
                    let plane = base + (b * c + ch) * s
                    var sum: Double = 0
                    var start = 0
                    while start < s {
                        let end = min(s, start + 1024)
                        var partial: Float = 0
                        for i in start..<end { partial += plane[i] }
                        sum += Double(partial)
                        start = end
                    }
                    gradient.data[ch] += Float(sum)
                }
            }
        }
        return gradient
    }
}
