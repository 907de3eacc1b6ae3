import Testing
@testable import VoxelNN
import VoxelSupport

/// The Winograd F(2×2×2, 3×3×3) path of `Conv3d` against the definition of the convolution, summed in Double.
/// (PyTorch's output and gradients for a convolution on this path are Tests/Fixtures/training/layer_conv3d_winograd,
/// checked by the training parity suite.)
@Suite("Winograd convolution")
struct WinogradConvolutionTests {
    struct Shape: Sendable, CustomStringConvertible {
        let batch: Int, inChannels: Int, outChannels: Int, size: [Int], bias: Bool
        var description: String { "\(batch)×\(inChannels)→\(outChannels) @\(size.map(String.init).joined(separator: "×"))\(bias ? "" : " no bias")" }
    }

    static let shapes: [Shape] = [
        Shape(batch: 2, inChannels: 8, outChannels: 9, size: [16, 17, 15], bias: true),   // odd H and W: clipped tiles
        Shape(batch: 1, inChannels: 12, outChannels: 8, size: [1, 33, 31], bias: true),   // a single slice
        Shape(batch: 1, inChannels: 10, outChannels: 16, size: [13, 11, 25], bias: false),
        Shape(batch: 1, inChannels: 9, outChannels: 8, size: [80, 2, 14], bias: true),    // H of 2
        Shape(batch: 1, inChannels: 8, outChannels: 8, size: [128, 9, 1], bias: true),    // W of 1
    ]

    static func random(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(zeros: shape)
        for i in 0..<t.count { t.data[i] = Float(generator.unit() - 0.5) }
        return t
    }

    /// `y[n, o, z, y, x] = b[o] + Σ w[o, c, i, j, k] · x[n, c, z + i − 1, y + j − 1, x + k − 1]` in Double.
    static func direct(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> [Double] {
        let (n, cin) = (x.shape[0], x.shape[1]), cout = w.shape[0]
        let (d, h, wd) = (x.shape[2], x.shape[3], x.shape[4])
        var y = [Double](repeating: 0, count: n * cout * d * h * wd)
        for s in 0..<n { for o in 0..<cout { for z in 0..<d { for yy in 0..<h { for xx in 0..<wd {
            var sum = Double(b?.data[o] ?? 0)
            for c in 0..<cin { for i in 0..<3 { for j in 0..<3 { for k in 0..<3 {
                let (iz, iy, ix) = (z + i - 1, yy + j - 1, xx + k - 1)
                guard iz >= 0, iz < d, iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                sum += Double(w.data[(((o * cin + c) * 3 + i) * 3 + j) * 3 + k])
                    * Double(x.data[(((s * cin + c) * d + iz) * h + iy) * wd + ix])
            } } } }
            y[(((s * cout + o) * d + z) * h + yy) * wd + xx] = sum
        } } } } }
        return y
    }

    @Test("equals the direct sum, clipped tiles and several samples included", arguments: shapes)
    func matchesDirectSum(_ shape: Shape) throws {
        var generator = SeededGenerator(seed: 11)
        #expect(WinogradConvolution.applies(geometry: ConvGeometry(kernel: [3, 3, 3], padding: [1, 1, 1]), groups: 1,
                                            inChannels: shape.inChannels, outChannels: shape.outChannels, size: shape.size))
        var conv = Conv3d(inChannels: shape.inChannels, outChannels: shape.outChannels, kernel: [3, 3, 3], padding: [1, 1, 1],
                          bias: shape.bias)
        conv.weight = Self.random(conv.weight.shape, &generator)
        if shape.bias { conv.bias = Self.random([shape.outChannels], &generator) }
        let x = Self.random([shape.batch, shape.inChannels] + shape.size, &generator)
        let y = try conv.forward(x)
        let expected = Self.direct(x, conv.weight, conv.bias)
        #expect(y.shape == [shape.batch, shape.outChannels] + shape.size)
        let worst = zip(y.data, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
        let largest = expected.map(abs).max() ?? 0
        #expect(largest > 1)
        #expect(worst <= 2e-6 * max(1, largest), "max abs error \(worst) against values up to \(largest)")
    }

    @Test("the weight gradient equals the direct sum, clipped tiles and several samples included")
    func weightGradient() {
        var generator = SeededGenerator(seed: 13)
        let (n, cin, cout, size) = (2, 8, 9, [15, 9, 17])
        let geometry = ConvGeometry(kernel: [3, 3, 3], padding: [1, 1, 1])
        #expect(WinogradConvolution.applies(geometry: geometry, groups: 1, inChannels: cin, outChannels: cout, size: size))
        let x = Self.random([n, cin] + size, &generator), dy = Self.random([n, cout] + size, &generator)
        let gradient = ConvolutionKernel.weightGradient(input: x, outputGradient: dy, geometry: geometry, groups: 1)
        let (d, h, w) = (size[0], size[1], size[2])
        var worst = 0.0, largest = 0.0
        for o in 0..<cout { for c in 0..<cin { for i in 0..<3 { for j in 0..<3 { for k in 0..<3 {
            var sum = 0.0
            for s in 0..<n { for z in 0..<d { for yy in 0..<h { for xx in 0..<w {
                let (iz, iy, ix) = (z + i - 1, yy + j - 1, xx + k - 1)
                guard iz >= 0, iz < d, iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(dy.data[(((s * cout + o) * d + z) * h + yy) * w + xx])
                    * Double(x.data[(((s * cin + c) * d + iz) * h + iy) * w + ix])
            } } } }
            let value = Double(gradient.data[(((o * cin + c) * 3 + i) * 3 + j) * 3 + k])
            worst = max(worst, abs(value - sum))
            largest = max(largest, abs(sum))
        } } } } }
        #expect(gradient.shape == [cout, cin, 3, 3, 3])
        #expect(largest > 1)
        #expect(worst <= 1e-5 * largest, "max abs error \(worst) against values up to \(largest)")
    }

    @Test("reads a decoder's [skip, upsampled] parts in place")
    func concatenatedParts() throws {
        var generator = SeededGenerator(seed: 12)
        var conv = Conv3d(inChannels: 11, outChannels: 8, kernel: [3, 3, 3], padding: [1, 1, 1])
        conv.weight = Self.random(conv.weight.shape, &generator)
        conv.bias = Self.random([8], &generator)
        let a = Self.random([1, 5, 14, 15, 16], &generator), b = Self.random([1, 6, 14, 15, 16], &generator)
        let y = try conv.forward(concatenating: [a, b])
        let expected = Self.direct(try TensorOps.concatChannels([a, b]), conv.weight, conv.bias)
        let worst = zip(y.data, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 2e-5)
    }

    @Test("is chosen only for 3×3×3 convolutions with stride 1, padding 1, enough channels and enough tiles")
    func selection() {
        let same = ConvGeometry(kernel: [3, 3, 3], padding: [1, 1, 1])
        #expect(WinogradConvolution.applies(geometry: same, groups: 1, inChannels: 32, outChannels: 32, size: [16, 16, 16]))
        #expect(!WinogradConvolution.applies(geometry: same, groups: 1, inChannels: 32, outChannels: 32, size: [8, 8, 8]))
        #expect(!WinogradConvolution.applies(geometry: same, groups: 1, inChannels: 1, outChannels: 32, size: [64, 64, 64]))
        #expect(!WinogradConvolution.applies(geometry: same, groups: 2, inChannels: 32, outChannels: 32, size: [64, 64, 64]))
        #expect(!WinogradConvolution.applies(geometry: ConvGeometry(kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1]),
                                             groups: 1, inChannels: 32, outChannels: 32, size: [64, 64, 64]))
        #expect(!WinogradConvolution.applies(geometry: ConvGeometry(kernel: [1, 3, 3], padding: [0, 1, 1]),
                                             groups: 1, inChannels: 32, outChannels: 32, size: [64, 64, 64]))
        #expect(!WinogradConvolution.applies(geometry: ConvGeometry(kernel: [3, 3, 3], padding: [1, 1, 1], dilation: [2, 2, 2]),
                                             groups: 1, inChannels: 32, outChannels: 32, size: [64, 64, 64]))
    }
}
