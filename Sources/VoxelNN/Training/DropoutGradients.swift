import VoxelSupport

extension GradientTape {
    /// `torch.nn.Dropout(p)` in training mode: each value is zeroed with probability `p` and the others
    /// are scaled by 1 / (1 − p), so the expectation is unchanged. The mask comes from `dropoutSeed` and
    /// the operation's number on the tape; the backward pass applies the same mask and scale.
    /// - Throws: `NNError.invalidInput` when `p` is not in [0, 1).
    public func dropout(_ x: Variable, probability p: Double) throws -> Variable {
        guard p >= 0 && p < 1 else { throw NNError.invalidInput("dropout: the probability must be at least 0 and below 1, got \(p)") }
        dropoutCalls += 1
        guard p > 0 else { return x }
        var rng = SeededGenerator(seed: dropoutSeed ^ (UInt64(dropoutCalls) &* 0x9E37_79B9_7F4A_7C15))
        let keep = Float(1 / (1 - p))
        // Drop when a 53-bit uniform draw falls below p.
        let threshold = UInt64(p * 0x1.0p53)
        var scale = [Float](repeating: 0, count: x.value.count)
        for i in scale.indices where rng.next() >> 11 >= threshold { scale[i] = keep }
        var out = x.value
        for i in out.data.indices { out.data[i] *= scale[i] }
        let input = x, mask = scale
        return record(out) { dz, tape in
            guard tape.needsGradient(input) else { return }
            var dx = dz
            for i in dx.data.indices { dx.data[i] *= mask[i] }
            tape.accumulate(input, dx)
        }
    }

    /// An activation on its own (after dropout, in MONAI's norm → dropout → activation order): LeakyReLU
    /// with a fixed slope, or PReLU with one shared or one slope per channel (NCDHW input).
    /// - Throws: `NNError.invalidInput` when the PReLU slopes do not fit the channels.
    public func activation(_ x: Variable, _ kind: TrainingActivation) throws -> Variable {
        let slopes: [Float]
        var slopeVariable: Variable?
        switch kind {
        case .none: return x
        case .leaky(let a): slopes = [a]
        case .prelu(let v):
            try requireRank(x.value, 5, "PReLU")
            let c = x.value.ncs.c
            guard v.value.count == 1 || v.value.count == c else { throw NNError.invalidInput("PReLU has \(v.value.count) slopes for \(c) channels") }
            slopes = v.value.data
            slopeVariable = v
        }
        let perChannel = slopes.count > 1
        let (n, c, s) = x.value.shape.count == 5 ? x.value.ncs : (1, 1, x.value.count)
        var out = x.value
        for b in 0..<n {
            for ch in 0..<c {
                let a = slopes[perChannel ? ch : 0], base = (b * c + ch) * s
                for i in base..<(base + s) where out.data[i] < 0 { out.data[i] *= a }
            }
        }
        let input = x, slopeVar = slopeVariable
        return record(out) { dz, tape in
            var dx = dz
            var dSlope = [Float](repeating: 0, count: slopes.count)
            for b in 0..<n {
                for ch in 0..<c {
                    let k = perChannel ? ch : 0, a = slopes[k], base = (b * c + ch) * s
                    for i in base..<(base + s) where input.value.data[i] < 0 {
                        dSlope[k] += dz.data[i] * input.value.data[i]
                        dx.data[i] *= a
                    }
                }
            }
            if tape.needsGradient(input) { tape.accumulate(input, dx) }
            if let slopeVar { tape.accumulate(slopeVar, Tensor(repeating: 0, shape: slopeVar.shape).replacingData(dSlope)) }
        }
    }
}
