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

    /// `output[n, g·Cout/G + o, p] = Σ_{c, tap} weight[g·Cout/G + o, c, tap] · input[n, g·Cin/G + c, p·stride + tap·dilation − padding]`.
    /// `weight` is `Cout × Cin/G × kD × kH × kW`; output is `N × Cout × oD × oH × oW`.
    static func forward(input x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, groups: Int) -> Tensor {
        let (n, cin, _) = x.ncs
        let inSize = Array(x.shape[2...4])
        let outSize = geometry.outputSize(inSize)
        let cout = weight.shape[0]
        let cinG = cin / groups, coutG = cout / groups
        let taps = geometry.taps
        let rows = cinG * taps
        let outSpatial = outSize.reduce(1, *), inSpatial = inSize.reduce(1, *)
        var y = Tensor(zeros: [n, cout] + outSize)
        let block = max(1, min(outSpatial, blockBytes / 4 / max(1, rows)))
        var columns = [Float](repeating: 0, count: rows * block)
        let pointwise = taps == 1 && geometry.stride == [1, 1, 1] && geometry.padding == [0, 0, 0]
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    columns.withUnsafeMutableBufferPointer { cp in
                        guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress, let cb = cp.baseAddress else { return }
                        for b in 0..<n {
                            for g in 0..<groups {
                                let xg = xb + (b * cin + g * cinG) * inSpatial
                                let yg = yb + (b * cout + g * coutG) * outSpatial
                                let wg = wb + g * coutG * rows
                                if pointwise {
                                    GEMM.multiply(m: coutG, n: outSpatial, k: cinG, a: wg, lda: rows, b: xg, ldb: inSpatial, c: yg, ldc: outSpatial)
                                    continue
                                }
                                var p0 = 0
                                while p0 < outSpatial {
                                    let count = min(block, outSpatial - p0)
                                    im2col(xg, channels: cinG, inSize: inSize, outSize: outSize, geometry: geometry, first: p0, count: count, into: cb, ld: count)
                                    GEMM.multiply(m: coutG, n: count, k: rows, a: wg, lda: rows, b: cb, ldb: count, c: yg + p0, ldc: outSpatial)
                                    p0 += count
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bias { addBias(&y, bias) }
        return y
    }

    /// Fills `columns[(c·taps + tap) · ld + q]` with the input value under tap `tap` of channel `c` for output
    /// position `first + q` (0 in the padding).
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, inSize: [Int], outSize: [Int], geometry gm: ConvGeometry,
                       first: Int, count: Int, into columns: UnsafeMutablePointer<Float>, ld: Int) {
        let (iD, iH, iW) = (inSize[0], inSize[1], inSize[2])
        let (oH, oW) = (outSize[1], outSize[2])
        let (kD, kH, kW) = (gm.kernel[0], gm.kernel[1], gm.kernel[2])
        let inSpatial = iD * iH * iW
        for c in 0..<channels {
            let xc = x + c * inSpatial
            var row = c * gm.taps
            for kd in 0..<kD { for kh in 0..<kH { for kw in 0..<kW {
                let dst = columns + row * ld
                let offD = kd * gm.dilation[0] - gm.padding[0], offH = kh * gm.dilation[1] - gm.padding[1], offW = kw * gm.dilation[2] - gm.padding[2]
                var p = first
                var od = p / (oH * oW), oh = (p / oW) % oH, ow = p % oW
                for q in 0..<count {
                    let d = od * gm.stride[0] + offD, h = oh * gm.stride[1] + offH, w = ow * gm.stride[2] + offW
                    dst[q] = (d >= 0 && d < iD && h >= 0 && h < iH && w >= 0 && w < iW) ? xc[(d * iH + h) * iW + w] : 0
                    p += 1
                    ow += 1
                    if ow == oW { ow = 0; oh += 1; if oh == oH { oh = 0; od += 1 } }
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
        let block = max(1, min(inSpatial, blockBytes / 4 / max(1, rows)))
        var columns = [Float](repeating: 0, count: rows * block)
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    columns.withUnsafeMutableBufferPointer { cp in
                        guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress, let cb = cp.baseAddress else { return }
                        for b in 0..<n {
                            for g in 0..<groups {
                                let xg = xb + (b * cin + g * cinG) * inSpatial
                                let yg = yb + (b * cout + g * coutG) * outSpatial
                                let wg = wb + g * cinG * rows
                                var p0 = 0
                                while p0 < inSpatial {
                                    let count = min(block, inSpatial - p0)
                                    // columns (rows × count) = Wᵀ (rows × cinG) · x (cinG × count)
                                    GEMM.multiply(m: rows, n: count, k: cinG, a: wg, lda: rows, transposeA: true, b: xg + p0, ldb: inSpatial,
                                                  c: cb, ldc: count)
                                    col2im(cb, channels: coutG, inSize: inSize, outSize: outSize, geometry: gm, first: p0, count: count, ld: count, into: yg)
                                    p0 += count
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bias { addBias(&y, bias) }
        return y
    }

    /// Scatter-adds columns into the output: input position `first + q`, tap `tap` of channel `c` lands at
    /// output position q·stride + tap·dilation − padding.
    static func col2im(_ columns: UnsafePointer<Float>, channels: Int, inSize: [Int], outSize: [Int], geometry gm: ConvGeometry,
                       first: Int, count: Int, ld: Int, into y: UnsafeMutablePointer<Float>) {
        let (iH, iW) = (inSize[1], inSize[2])
        let (oD, oH, oW) = (outSize[0], outSize[1], outSize[2])
        let outSpatial = oD * oH * oW
        for c in 0..<channels {
            let yc = y + c * outSpatial
            var row = c * gm.taps
            for kd in 0..<gm.kernel[0] { for kh in 0..<gm.kernel[1] { for kw in 0..<gm.kernel[2] {
                let src = columns + row * ld
                let offD = kd * gm.dilation[0] - gm.padding[0], offH = kh * gm.dilation[1] - gm.padding[1], offW = kw * gm.dilation[2] - gm.padding[2]
                var p = first
                var id = p / (iH * iW), ih = (p / iW) % iH, iw = p % iW
                for q in 0..<count {
                    let d = id * gm.stride[0] + offD, h = ih * gm.stride[1] + offH, w = iw * gm.stride[2] + offW
                    if d >= 0 && d < oD && h >= 0 && h < oH && w >= 0 && w < oW { yc[(d * oH + h) * oW + w] += src[q] }
                    p += 1
                    iw += 1
                    if iw == iW { iw = 0; ih += 1; if ih == iH { ih = 0; id += 1 } }
                }
                row += 1
            } } }
        }
    }

    static func addBias(_ y: inout Tensor, _ bias: Tensor) {
        let (n, c, s) = y.ncs
        y.data.withUnsafeMutableBufferPointer { p in
            for b in 0..<n { for ch in 0..<c {
                let v = bias.data[ch]
                let base = (b * c + ch) * s
                for i in 0..<s { p[base + i] += v }
            } }
        }
    }
}
