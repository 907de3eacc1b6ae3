import VoxelCore
import Dispatch
import VoxelSupport

/// `torch.nn.MaxPool3d` (padding counts as −∞).
public struct MaxPool3d: Layer {
    public var geometry: ConvGeometry
    public init(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0]) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
    }
    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, "MaxPool3d")
        return Pooling.pool(x, geometry, initial: -.infinity, combine: { max($0, $1) }) { value, _ in value }
    }
}

/// `torch.nn.AvgPool3d` with PyTorch's defaults: padding zeros count in the average (`count_include_pad`),
/// windows never extend past the padded input.
public struct AvgPool3d: Layer {
    public var geometry: ConvGeometry
    public init(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0]) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
    }
    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, "AvgPool3d")
        return Pooling.pool(x, geometry, initial: 0, combine: +) { sum, size in sum / Float(size) }
    }
}

/// `torch.nn.AdaptiveAvgPool3d(1)`: the mean of each channel, shape N × C × 1 × 1 × 1.
public struct GlobalAvgPool: Layer {
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, "GlobalAvgPool")
        let (n, c, s) = x.ncs
        var y = Tensor(zeros: [n, c, 1, 1, 1])
        for i in 0..<(n * c) {
            var sum = 0.0
            for j in 0..<s { sum += Double(x.data[i * s + j]) }
            y.data[i] = Float(sum / Double(s))
        }
        return y
    }
}

enum Pooling {
    /// Runs a window reduction; `finish` gets the reduced value and the window size used for averages
    /// (the window clipped to the padded input, as PyTorch counts it). Planes run in parallel.
    static func pool(_ x: Tensor, _ g: ConvGeometry, initial: Float, combine: @escaping @Sendable (Float, Float) -> Float,
                     finish: @escaping @Sendable (Float, Int) -> Float) -> Tensor {
        let (n, c, _) = x.ncs
        let inSize = Array(x.shape[2...4])
        let out = g.outputSize(inSize)
        var y = Tensor(zeros: [n, c] + out)
        let (iD, iH, iW) = (inSize[0], inSize[1], inSize[2])
        let (oD, oH, oW) = (out[0], out[1], out[2])
        let inSpatial = iD * iH * iW, outSpatial = oD * oH * oW
        let (kD, kH, kW) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let (sD, sH, sW) = (g.stride[0], g.stride[1], g.stride[2])
        let (pD, pH, pW) = (g.padding[0], g.padding[1], g.padding[2])
        x.data.withUnsafeBufferPointer { xbuf in y.data.withUnsafeMutableBufferPointer { ybuf in
            guard let xb = xbuf.baseAddress, let yb = ybuf.baseAddress else { return }
            let input = Shared(xb), output = Shared(yb)
            Parallel.perform(n * c) { plane in
                let xp = input.value + plane * inSpatial, yp = output.value + plane * outSpatial
                for od in 0..<oD {
                    let d0 = od * sD - pD, dEnd = min(d0 + kD, iD + pD)
                    for oh in 0..<oH {
                        let h0 = oh * sH - pH, hEnd = min(h0 + kH, iH + pH)
                        for ow in 0..<oW {
                            let w0 = ow * sW - pW, wEnd = min(w0 + kW, iW + pW)
                            let padded = (dEnd - d0) * (hEnd - h0) * (wEnd - w0)
                            var acc = initial
                            for d in clip(d0, kD, iD) {
                                for h in clip(h0, kH, iH) {
                                    let row = xp + (d * iH + h) * iW
                                    for w in clip(w0, kW, iW) { acc = combine(acc, row[w]) }
                                }
                            }
                            yp[(od * oH + oh) * oW + ow] = finish(acc, padded)
                        }
                    }
                }
            }
        } }
        return y
    }

    /// The part of `start..<start + length` inside `0..<size` (empty when they do not meet).
    @inline(__always) static func clip(_ start: Int, _ length: Int, _ size: Int) -> Range<Int> {
        let lo = max(start, 0)
        return lo..<max(lo, min(start + length, size))
    }
}
