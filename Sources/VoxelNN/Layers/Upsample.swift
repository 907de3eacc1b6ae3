import VoxelSupport

/// `torch.nn.Upsample` by an integer factor: nearest, or trilinear with `align_corners=False`.
public struct Upsample: Layer {
    public enum Mode: String, Sendable { case nearest, trilinear }
    public var scale: Int
    public var mode: Mode

    public init(scale: Int, mode: Mode) {
        self.scale = scale
        self.mode = mode
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, "Upsample")
        let (n, c, _) = x.ncs
        let inSize = Array(x.shape[2...4]), out = inSize.map { $0 * scale }
        var y = Tensor(zeros: [n, c] + out)
        let inSpatial = inSize.reduce(1, *), outSpatial = out.reduce(1, *)
        let td = taps(input: inSize[0]), th = taps(input: inSize[1]), tw = taps(input: inSize[2])
        let (sH, sW) = (inSize[1], inSize[2]), (oH, oW) = (out[1], out[2])
        // Planes in parallel, on the storage directly.
        x.data.withUnsafeBufferPointer { xs in
            y.data.withUnsafeMutableBufferPointer { ys in
                let src = Shared(xs), dst = Shared(ys)
                Parallel.perform(n * c) { plane in
                    let xb = plane * inSpatial, yb = plane * outSpatial
                    let xv = src.value, yv = dst.value
                    @inline(__always) func v(_ d: Int, _ h: Int, _ w: Int) -> Float { xv[xb + (d * sH + h) * sW + w] }
                    for od in 0..<out[0] { for oh in 0..<oH { for ow in 0..<oW {
                        let (d0, d1, fd) = td[od], (h0, h1, fh) = th[oh], (w0, w1, fw) = tw[ow]
                        let c00 = v(d0, h0, w0) * (1 - fw) + v(d0, h0, w1) * fw, c01 = v(d0, h1, w0) * (1 - fw) + v(d0, h1, w1) * fw
                        let c10 = v(d1, h0, w0) * (1 - fw) + v(d1, h0, w1) * fw, c11 = v(d1, h1, w0) * (1 - fw) + v(d1, h1, w1) * fw
                        let c0 = c00 * (1 - fh) + c01 * fh, c1 = c10 * (1 - fh) + c11 * fh
                        yv[yb + (od * oH + oh) * oW + ow] = c0 * (1 - fd) + c1 * fd
                    } } }
                }
            }
        }
        return y
    }

    /// For each output index along an axis of `input` voxels: the lower source index, the upper source index and
    /// the upper one's weight (nearest: the one source, weight 0 for the other).
    func taps(input: Int) -> [(Int, Int, Float)] {
        (0..<(input * scale)).map { o in
            if mode == .nearest { let i = o / scale; return (i, i, 0) }
            let src = max(0, (Float(o) + 0.5) / Float(scale) - 0.5)
            let lo = min(Int(src), input - 1)
            return (lo, min(lo + 1, input - 1), src - Float(lo))
        }
    }

    /// The gradient of `forward` with respect to its input (`inputSize` spatial): each output gradient goes back
    /// to the voxels it was interpolated from, with the same weights. Planes run in parallel, each writing its own.
    func inputGradient(_ dy: Tensor, inputSize: [Int]) -> Tensor {
        let (n, c, _) = dy.ncs
        let out = inputSize.map { $0 * scale }
        var dx = Tensor(zeros: [n, c] + inputSize)
        let inSpatial = inputSize.reduce(1, *), outSpatial = out.reduce(1, *)
        let td = taps(input: inputSize[0]), th = taps(input: inputSize[1]), tw = taps(input: inputSize[2])
        let (sH, sW) = (inputSize[1], inputSize[2]), (oH, oW) = (out[1], out[2])
        dy.data.withUnsafeBufferPointer { gs in
            dx.data.withUnsafeMutableBufferPointer { xs in
                let src = Shared(gs), dst = Shared(xs)
                Parallel.perform(n * c) { plane in
                    let gv = src.value, xv = dst.value
                    let gb = plane * outSpatial, xb = plane * inSpatial
                    for od in 0..<out[0] { for oh in 0..<oH { for ow in 0..<oW {
                        let g = gv[gb + (od * oH + oh) * oW + ow]
                        let (d0, d1, fd) = td[od], (h0, h1, fh) = th[oh], (w0, w1, fw) = tw[ow]
                        @inline(__always) func add(_ d: Int, _ h: Int, _ v: Float) {
                            let row = xb + (d * sH + h) * sW
                            xv[row + w0] += v * (1 - fw)
                            if fw != 0 { xv[row + w1] += v * fw }
                        }
                        let lower = g * (1 - fd), upper = g * fd
                        add(d0, h0, lower * (1 - fh))
                        if fh != 0 { add(d0, h1, lower * fh) }
                        if fd != 0 {
                            add(d1, h0, upper * (1 - fh))
                            if fh != 0 { add(d1, h1, upper * fh) }
                        }
                    } } }
                }
            }
        }
        return dx
    }
}
