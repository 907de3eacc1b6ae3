/// `torch.nn.MaxPool3d` (padding counts as −∞).
public struct MaxPool3d: Layer {
    public var geometry: ConvGeometry
    public init(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0]) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
    }
    public func forward(_ x: Tensor) throws -> Tensor {
        try requireRank(x, 5, "MaxPool3d")
        return Pooling.pool(x, geometry, initial: -.infinity, combine: max) { value, _ in value }
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
    /// (the window clipped to the padded input, as PyTorch counts it).
    static func pool(_ x: Tensor, _ g: ConvGeometry, initial: Float, combine: (Float, Float) -> Float, finish: (Float, Int) -> Float) -> Tensor {
        let (n, c, _) = x.ncs
        let inSize = Array(x.shape[2...4])
        let out = g.outputSize(inSize)
        var y = Tensor(zeros: [n, c] + out)
        let inSpatial = inSize.reduce(1, *), outSpatial = out.reduce(1, *)
        for plane in 0..<(n * c) {
            let xb = plane * inSpatial, yb = plane * outSpatial
            for od in 0..<out[0] { for oh in 0..<out[1] { for ow in 0..<out[2] {
                let start = [od * g.stride[0] - g.padding[0], oh * g.stride[1] - g.padding[1], ow * g.stride[2] - g.padding[2]]
                var acc = initial
                var padded = 1
                for a in 0..<3 { padded *= min(start[a] + g.kernel[a], inSize[a] + g.padding[a]) - start[a] }
                for kd in 0..<g.kernel[0] { for kh in 0..<g.kernel[1] { for kw in 0..<g.kernel[2] {
                    let d = start[0] + kd, h = start[1] + kh, w = start[2] + kw
                    guard d >= 0, h >= 0, w >= 0, d < inSize[0], h < inSize[1], w < inSize[2] else { continue }
                    acc = combine(acc, x.data[xb + (d * inSize[1] + h) * inSize[2] + w])
                } } }
                y.data[yb + (od * out[1] + oh) * out[2] + ow] = finish(acc, padded)
            } } }
        }
        return y
    }
}
