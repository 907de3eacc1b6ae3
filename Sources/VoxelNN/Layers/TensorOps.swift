/// Tensor operations used between layers.
public enum TensorOps {
    /// Concatenation along the channel axis of NCDHW tensors with equal batch and spatial size.
    public static func concatChannels(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw NNError.invalidInput("nothing to concatenate") }
        let n = first.shape[0], spatial = Array(first.shape[2...])
        guard parts.allSatisfy({ $0.shape.count == first.shape.count && $0.shape[0] == n && Array($0.shape[2...]) == spatial }) else {
            throw NNError.invalidInput("concatenation needs equal batch and spatial sizes, got \(parts.map(\.shape))")
        }
        let s = spatial.reduce(1, *)
        let c = parts.reduce(0) { $0 + $1.shape[1] }
        var y = Tensor(zeros: [n, c] + spatial)
        var offset = 0
        for b in 0..<n {
            for p in parts {
                let count = p.shape[1] * s
                y.data.replaceSubrange(offset..<(offset + count), with: p.data[(b * count)..<((b + 1) * count)])
                offset += count
            }
        }
        return y
    }

    /// Elementwise sum (residual connections).
    public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        var y = a
        try addInPlace(&y, b)
        return y
    }

    /// `y += b` elementwise, in `y`'s own storage (no copy when it is uniquely referenced, as a layer's fresh
    /// output is).
    public static func addInPlace(_ y: inout Tensor, _ b: Tensor) throws {
        guard y.shape == b.shape else { throw NNError.invalidInput("cannot add shapes \(y.shape) and \(b.shape)") }
        y.data.withUnsafeMutableBufferPointer { out in
            b.data.withUnsafeBufferPointer { other in
                for i in out.indices { out[i] += other[i] }
            }
        }
    }

    /// The tensor mirrored along the given spatial axes of an NCDHW tensor (0 = D, 1 = H, 2 = W).
    public static func flip(_ x: Tensor, spatialAxes: [Int]) throws -> Tensor {
        guard !spatialAxes.isEmpty else { return x }
        guard x.shape.count == 5, spatialAxes.allSatisfy({ (0...2).contains($0) }) else {
            throw NNError.invalidInput("flip needs an NCDHW tensor and axes in 0…2, got \(x.shape) and \(spatialAxes)")
        }
        let (nD, nH, nW) = (x.shape[2], x.shape[3], x.shape[4])
        let fd = spatialAxes.contains(0), fh = spatialAxes.contains(1), fw = spatialAxes.contains(2)
        var y = x
        let planes = x.shape[0] * x.shape[1], spatial = nD * nH * nW
        for p in 0..<planes {
            let base = p * spatial
            for d in 0..<nD {
                let sd = fd ? nD - 1 - d : d
                for h in 0..<nH {
                    let sh = fh ? nH - 1 - h : h
                    let to = base + (d * nH + h) * nW, from = base + (sd * nH + sh) * nW
                    if fw {
                        for w in 0..<nW { y.data[to + w] = x.data[from + nW - 1 - w] }
                    } else {
                        for w in 0..<nW { y.data[to + w] = x.data[from + w] }
                    }
                }
            }
        }
        return y
    }

    /// An NCDHW tensor grown at the end of each spatial axis to `size` by repeating its last slice
    /// (PyTorch `pad(…, mode="replicate")` on the high side only).
    public static func replicatePadEnd(_ x: Tensor, to size: [Int]) throws -> Tensor {
        guard x.shape.count == 5, size.count == 3, (0..<3).allSatisfy({ size[$0] >= x.shape[$0 + 2] && x.shape[$0 + 2] > 0 }) else {
            throw NNError.invalidInput("cannot pad \(x.shape) to spatial size \(size)")
        }
        let (d0, h0, w0) = (x.shape[2], x.shape[3], x.shape[4])
        if [d0, h0, w0] == size { return x }
        var y = Tensor(zeros: Array(x.shape[0...1]) + size)
        let planes = x.shape[0] * x.shape[1], inSpatial = d0 * h0 * w0, outSpatial = size.reduce(1, *)
        for p in 0..<planes {
            for d in 0..<size[0] {
                let sd = min(d, d0 - 1)
                for h in 0..<size[1] {
                    let sh = min(h, h0 - 1)
                    let from = p * inSpatial + (sd * h0 + sh) * w0, to = p * outSpatial + (d * size[1] + h) * size[2]
                    for w in 0..<size[2] { y.data[to + w] = x.data[from + min(w, w0 - 1)] }
                }
            }
        }
        return y
    }
}
