import Foundation

/// Batch statistics of one `BatchNorm3d` in a training step: the values PyTorch folds into the running
/// statistics after the step.
public struct BatchStatistics: Sendable {
    /// Per channel mean over the batch and the spatial axes.
    public var mean: [Float]
    /// Per channel unbiased variance (divided by count − 1), as PyTorch uses for `running_var`.
    public var unbiasedVariance: [Float]
}

extension GradientTape {
    /// `torch.nn.BatchNorm3d` in training mode, optionally followed by ReLU: each channel normalised with the
    /// mean and biased variance of the whole batch, then scaled and shifted. Records the batch statistics under
    /// `name` (the layer's state_dict prefix) in `batchStatistics`; the running statistics are not touched here.
    /// Keeps the normalised values and the output for the backward pass.
    public func batchNorm(_ x: Variable, weight: Variable, bias: Variable, eps: Float = 1e-5, relu: Bool, name: String) throws -> Variable {
        try requireRank(x.value, 5, "BatchNorm3d")
        let (n, c, s) = x.value.ncs
        guard weight.value.count == c, bias.value.count == c else {
            throw NNError.shapeMismatch(name: name + "weight", expected: [c], found: weight.shape)
        }
        let m = n * s
        guard m > 1 else { throw NNError.invalidInput("BatchNorm3d \(name): training needs more than one value per channel, got input \(x.shape)") }
        var normalised = Tensor(zeros: x.shape)
        var y = Tensor(zeros: x.shape)
        var means = [Float](repeating: 0, count: c), variances = [Float](repeating: 0, count: c), inverse = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            var sum = 0.0
            for b in 0..<n { let base = (b * c + ch) * s; for i in 0..<s { sum += Double(x.value.data[base + i]) } }
            let mean = sum / Double(m)
            var sq = 0.0
            for b in 0..<n { let base = (b * c + ch) * s; for i in 0..<s { let d = Double(x.value.data[base + i]) - mean; sq += d * d } }
            means[ch] = Float(mean)
            variances[ch] = Float(sq / Double(m - 1))
            inverse[ch] = Float(1 / (sq / Double(m) + Double(eps)).squareRoot())
        }
        normalised.data.withUnsafeMutableBufferPointer { np in
            y.data.withUnsafeMutableBufferPointer { yp in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s, mu = means[ch], inv = inverse[ch], w = weight.value.data[ch], sh = bias.value.data[ch]
                        for i in 0..<s {
                            let h = (x.value.data[base + i] - mu) * inv
                            np[base + i] = h
                            let v = h * w + sh
                            yp[base + i] = relu ? max(v, 0) : v
                        }
                    }
                }
            }
        }
        batchStatistics[name] = BatchStatistics(mean: means, unbiasedVariance: variances)
        let input = x, w = weight, bshift = bias, output = y, hat = normalised, inv = inverse
        return record(y) { dy, tape in
            var dw = [Float](repeating: 0, count: c), db = [Float](repeating: 0, count: c)
            var dz = dy
            if relu { for i in 0..<dz.count where output.data[i] <= 0 { dz.data[i] = 0 } }
            for b in 0..<n {
                for ch in 0..<c {
                    let base = (b * c + ch) * s
                    var sw = 0.0, sb = 0.0
                    for i in 0..<s { sw += Double(dz.data[base + i] * hat.data[base + i]); sb += Double(dz.data[base + i]) }
                    dw[ch] += Float(sw)
                    db[ch] += Float(sb)
                }
            }
            var wGrad = Tensor(zeros: [c]), bGrad = Tensor(zeros: [c])
            for ch in 0..<c { wGrad.data[ch] = dw[ch]; bGrad.data[ch] = db[ch] }
            tape.accumulate(w, wGrad)
            tape.accumulate(bshift, bGrad)
            guard tape.needsGradient(input) else { return }
            var dx = Tensor(zeros: input.shape)
            let scale = 1 / Float(m)
            for b in 0..<n {
                for ch in 0..<c {
                    let base = (b * c + ch) * s, k = w.value.data[ch] * inv[ch], mdb = db[ch], mdw = dw[ch]
                    for i in 0..<s {
                        dx.data[base + i] = k * (dz.data[base + i] - scale * mdb - hat.data[base + i] * scale * mdw)
                    }
                }
            }
            tape.accumulate(input, dx)
        }
    }

    /// `torch.nn.ReLU`.
    public func relu(_ x: Variable) -> Variable {
        var y = x.value
        for i in 0..<y.count where !(y.data[i] > 0) { y.data[i] = 0 }
        let input = x, output = y
        return record(y) { dy, tape in
            guard tape.needsGradient(input) else { return }
            var dx = dy
            for i in 0..<dx.count where !(output.data[i] > 0) { dx.data[i] = 0 }
            tape.accumulate(input, dx)
        }
    }

    /// `torch.nn.AdaptiveAvgPool3d(1)` followed by flattening: [N, C, D, H, W] → [N, C].
    /// `torch.nn.AvgPool3d(kernel)` with the stride equal to the kernel and no padding (voxels past the last whole
    /// window are dropped, as PyTorch does, and get no gradient).
    public func avgPool3d(_ x: Variable, kernel: [Int]) throws -> Variable {
        let y = try AvgPool3d(kernel: kernel).forward(x.value)
        let inSize = Array(x.shape[2...4]), out = Array(y.shape[2...4])
        let (n, c, inSpatial) = x.value.ncs
        let outSpatial = out.reduce(1, *), share = 1 / Float(kernel.reduce(1, *))
        let input = x
        return record(y) { dy, tape in
            guard tape.needsGradient(input) else { return }
            var dx = Tensor(zeros: input.shape)
            for plane in 0..<(n * c) {
                for od in 0..<out[0] { for oh in 0..<out[1] { for ow in 0..<out[2] {
                    let g = dy.data[plane * outSpatial + (od * out[1] + oh) * out[2] + ow] * share
                    for kd in 0..<kernel[0] { for kh in 0..<kernel[1] { for kw in 0..<kernel[2] {
                        let d = od * kernel[0] + kd, h = oh * kernel[1] + kh, w = ow * kernel[2] + kw
                        dx.data[plane * inSpatial + (d * inSize[1] + h) * inSize[2] + w] += g
                    } } }
                } } }
            }
            tape.accumulate(input, dx)
        }
    }

    public func globalAveragePool(_ x: Variable) throws -> Variable {
        try requireRank(x.value, 5, "AdaptiveAvgPool3d")
        let (n, c, s) = x.value.ncs
        var y = Tensor(zeros: [n, c])
        for p in 0..<(n * c) {
            var sum = 0.0
            for i in 0..<s { sum += Double(x.value.data[p * s + i]) }
            y.data[p] = Float(sum / Double(s))
        }
        let input = x
        return record(y) { dy, tape in
            guard tape.needsGradient(input) else { return }
            var dx = Tensor(zeros: input.shape)
            for p in 0..<(n * c) { let g = dy.data[p] / Float(s); for i in 0..<s { dx.data[p * s + i] = g } }
            tape.accumulate(input, dx)
        }
    }

    /// `torch.nn.functional.linear` on [N, F] with weight [O, F] and bias [O]; the output is [N, O, 1, 1, 1]
    /// (a classifier's logits in the layout the losses take).
    public func linear(_ x: Variable, weight: Variable, bias: Variable?) throws -> Variable {
        guard x.shape.count == 2, weight.shape.count == 2, weight.shape[1] == x.shape[1] else {
            throw NNError.invalidInput("Linear: input \(x.shape) does not fit weight \(weight.shape)")
        }
        let n = x.shape[0], f = x.shape[1], o = weight.shape[0]
        var y = Tensor(zeros: [n, o, 1, 1, 1])
        for b in 0..<n {
            for k in 0..<o {
                var v = bias?.value.data[k] ?? 0
                for j in 0..<f { v += x.value.data[b * f + j] * weight.value.data[k * f + j] }
                y.data[b * o + k] = v
            }
        }
        let input = x, w = weight
        return record(y) { dy, tape in
            var dw = Tensor(zeros: w.shape)
            for b in 0..<n { for k in 0..<o { let g = dy.data[b * o + k]; for j in 0..<f { dw.data[k * f + j] += g * input.value.data[b * f + j] } } }
            tape.accumulate(w, dw)
            if let bias {
                var db = Tensor(zeros: [o])
                for b in 0..<n { for k in 0..<o { db.data[k] += dy.data[b * o + k] } }
                tape.accumulate(bias, db)
            }
            guard tape.needsGradient(input) else { return }
            var dx = Tensor(zeros: input.shape)
            for b in 0..<n { for k in 0..<o { let g = dy.data[b * o + k]; for j in 0..<f { dx.data[b * f + j] += g * w.value.data[k * f + j] } } }
            tape.accumulate(input, dx)
        }
    }
}

extension ParameterStore {
    /// Folds one step's batch statistics into the running statistics as PyTorch's `BatchNorm3d` does with
    /// `momentum`: running = (1 − momentum)·running + momentum·batch (the variance unbiased).
    public mutating func updateRunningStatistics(_ statistics: [String: BatchStatistics], momentum: Float = 0.1) {
        for (prefix, stats) in statistics {
            modify(prefix + "running_mean") { t in
                for i in 0..<min(t.count, stats.mean.count) { t.data[i] = (1 - momentum) * t.data[i] + momentum * stats.mean[i] }
            }
            modify(prefix + "running_var") { t in
                for i in 0..<min(t.count, stats.unbiasedVariance.count) { t.data[i] = (1 - momentum) * t.data[i] + momentum * stats.unbiasedVariance[i] }
            }
        }
    }
}
