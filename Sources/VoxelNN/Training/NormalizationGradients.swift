import VoxelSupport

extension GradientTape {
    /// Instance norm (`groups` = channels) or group norm over an NCDHW tensor, with an optional per-channel
    /// affine, followed by an activation, as one operation (MONAI's norm → activation order).
    ///
    /// Keeps the normalised values x̂ and each (sample, group)'s 1/σ; the pre-activation γ·x̂ + β is
    /// recomputed in the backward pass instead of stored.
    /// - Throws: `NNError.invalidInput` when the channels do not split into `groups` or the affine does not fit.
    public func normActivation(_ x: Variable, groups: Int, weight: Variable?, bias: Variable?, eps: Float = 1e-5,
                               activation: TrainingActivation) throws -> Variable {
        try requireRank(x.value, 5, "normalisation")
        let (n, c, s) = x.value.ncs
        guard groups > 0, c % groups == 0 else { throw NNError.invalidInput("normalisation: \(c) channels do not split into \(groups) groups") }
        if let weight, weight.value.count != c { throw NNError.invalidInput("normalisation: weight has \(weight.value.count) values for \(c) channels") }
        if let bias, bias.value.count != c { throw NNError.invalidInput("normalisation: bias has \(bias.value.count) values for \(c) channels") }
        var slopeValues: [Float] = [0]
        var slopeVariable: Variable?
        switch activation {
        case .none: slopeValues = [1]
        case .leaky(let a): slopeValues = [a]
        case .prelu(let v):
            guard v.value.count == 1 || v.value.count == c else { throw NNError.invalidInput("PReLU has \(v.value.count) slopes for \(c) channels") }
            slopeValues = v.value.data
            slopeVariable = v
        }
        let slopes = slopeValues
        let gamma = weight?.value.data ?? [Float](repeating: 1, count: c)
        let beta = bias?.value.data ?? [Float](repeating: 0, count: c)
        let perGroup = c / groups, jobs = n * groups, count = perGroup * s
        var normalized = Tensor(uninitialized: x.shape)
        var output = Tensor(uninitialized: x.shape)
        var inverse = [Float](repeating: 0, count: jobs)
        x.value.data.withUnsafeBufferPointer { xp in
        normalized.data.withUnsafeMutableBufferPointer { np in
        output.data.withUnsafeMutableBufferPointer { op in
        inverse.withUnsafeMutableBufferPointer { ip in
            guard let xb = xp.baseAddress, let nb = np.baseAddress, let ob = op.baseAddress, let ib = ip.baseAddress else { return }
            let xs = Shared(xb), ns = Shared(nb), os = Shared(ob), inv = Shared(ib)
            Parallel.perform(jobs) { job in
                let offset = job * count
                let moments = Normalization.moments(UnsafePointer(xs.value + offset), count: count, eps: eps)
                let mean = Float(moments.mean), invStd = Float(moments.inverseStd)
                inv.value[job] = invStd
                let channel0 = (job % groups) * perGroup
                for ch in 0..<perGroup {
                    let channel = channel0 + ch
                    let g = gamma[channel], b = beta[channel], a = slopes[slopes.count == 1 ? 0 : channel]
                    let src = xs.value + offset + ch * s, xh = ns.value + offset + ch * s, dst = os.value + offset + ch * s
                    for i in 0..<s {
                        let h = (src[i] - mean) * invStd
                        xh[i] = h
                        let v = g * h + b
                        dst[i] = v < 0 ? a * v : v
                    }
                }
            }
        }
        }
        }
        }
        let input = x, w = weight, bv = bias, xhat = normalized, inverses = inverse
        return record(output) { dz, tape in
            var dx = Tensor(uninitialized: xhat.shape)
            // Per job: Σ dv·x̂ and Σ dv for each of its channels, and Σ dz·v over v < 0 per channel.
            var sums = [Float](repeating: 0, count: jobs * perGroup * 3)
            xhat.data.withUnsafeBufferPointer { hp in
            dz.data.withUnsafeBufferPointer { zp in
            dx.data.withUnsafeMutableBufferPointer { dp in
            sums.withUnsafeMutableBufferPointer { sp in
                guard let hb = hp.baseAddress, let zb = zp.baseAddress, let db = dp.baseAddress, let sb = sp.baseAddress else { return }
                let hs = Shared(hb), zs = Shared(zb), ds = Shared(db), ss = Shared(sb)
                Parallel.perform(jobs) { job in
                    let offset = job * count
                    let channel0 = (job % groups) * perGroup
                    var sum1 = 0.0, sum2 = 0.0
                    for ch in 0..<perGroup {
                        let channel = channel0 + ch
                        let g = gamma[channel], b = beta[channel], a = slopes[slopes.count == 1 ? 0 : channel]
                        let h = hs.value + offset + ch * s, z = zs.value + offset + ch * s, d = ds.value + offset + ch * s
                        var gh: Float = 0, gb: Float = 0, ga: Float = 0, s1: Float = 0, s2: Float = 0
                        for i in 0..<s {
                            let v = g * h[i] + b
                            let dv = v < 0 ? a * z[i] : z[i]
                            if v < 0 { ga += z[i] * v }
                            gh += dv * h[i]
                            gb += dv
                            let dh = dv * g
                            d[i] = dh
                            s1 += dh
                            s2 += dh * h[i]
                        }
                        let slot = ss.value + (job * perGroup + ch) * 3
                        slot[0] = gh; slot[1] = gb; slot[2] = ga
                        sum1 += Double(s1)
                        sum2 += Double(s2)
                    }
                    let invStd = inverses[job]
                    let m1 = Float(sum1 / Double(count)), m2 = Float(sum2 / Double(count))
                    for ch in 0..<perGroup {
                        let h = hs.value + offset + ch * s, d = ds.value + offset + ch * s
                        for i in 0..<s { d[i] = invStd * (d[i] - m1 - h[i] * m2) }
                    }
                }
            }
            }
            }
            }
            if tape.needsGradient(input) { tape.accumulate(input, dx) }
            var dGamma = Tensor(zeros: [c]), dBeta = Tensor(zeros: [c]), dSlope = [Float](repeating: 0, count: c)
            for job in 0..<jobs {
                for ch in 0..<perGroup {
                    let channel = (job % groups) * perGroup + ch, slot = (job * perGroup + ch) * 3
                    dGamma.data[channel] += sums[slot]
                    dBeta.data[channel] += sums[slot + 1]
                    dSlope[channel] += sums[slot + 2]
                }
            }
            if let w { tape.accumulate(w, dGamma) }
            if let bv { tape.accumulate(bv, dBeta) }
            if let slopeVariable {
                let perSlope = slopeVariable.value.count == 1 ? [dSlope.reduce(0, +)] : dSlope
                tape.accumulate(slopeVariable, Tensor(repeating: 0, shape: slopeVariable.shape).replacingData(perSlope))
            }
        }
    }
}

extension Tensor {
    /// The same shape with `values` as data (the counts must match; used for small parameter gradients).
    func replacingData(_ values: [Float]) -> Tensor {
        var t = self
        t.data = values
        return t
    }
}
