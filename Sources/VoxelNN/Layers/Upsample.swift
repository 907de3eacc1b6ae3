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
        // Per axis: lower source index, upper source index and the upper weight for each output index.
        func taps(_ a: Int) -> [(Int, Int, Float)] {
            (0..<out[a]).map { o in
                if mode == .nearest { let i = o / scale; return (i, i, 0) }
                let src = max(0, (Float(o) + 0.5) / Float(scale) - 0.5)
                let lo = min(Int(src), inSize[a] - 1)
                return (lo, min(lo + 1, inSize[a] - 1), src - Float(lo))
            }
        }
        let td = taps(0), th = taps(1), tw = taps(2)
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
}
