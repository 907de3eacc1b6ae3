/// The state of one sliding-window run: window positions, the importance map and the rolling slab of
/// weighted sums (`channels × roi.D × paddedH × paddedW`) with its weight totals. Coordinates inside are
/// those of the zero-padded volume; `padLow` converts them back.
struct SlidingWindowPlan {
    let window: SlidingWindow
    let input: Tensor
    let network: any Network
    /// Input size, padded size and the padding before the input, along (D, H, W).
    let size: [Int], padded: [Int], padLow: [Int]
    let depthStarts: [Int], heightStarts: [Int], widthStarts: [Int]
    let weights: [Float]
    let channels: Int
    /// Padded depth of the slab's first slice.
    private var base = 0
    private var sums: [Float]
    private var totals: [Float]

    init(_ window: SlidingWindow, input: Tensor, network: any Network) throws {
        self.window = window
        self.input = input
        self.network = network
        let size = Array(input.shape[2...])
        let padded = (0..<3).map { max(size[$0], window.roi[$0]) }
        self.size = size
        self.padded = padded
        padLow = (0..<3).map { (padded[$0] - size[$0]) / 2 }
        depthStarts = window.starts(size: padded[0], axis: 0)
        heightStarts = window.starts(size: padded[1], axis: 1)
        widthStarts = window.starts(size: padded[2], axis: 2)
        weights = window.importanceMap()
        channels = network.outChannels
        let slab = window.roi[0] * padded[1] * padded[2]
        sums = [Float](repeating: 0, count: channels * slab)
        totals = [Float](repeating: 0, count: slab)
    }

    private var slicePlane: Int { padded[1] * padded[2] }

    /// Finishes the padded depth slices before `z`: hands the ones inside the input to `consume` as
    /// averaged outputs, then rolls the slab so that it starts at `z`.
    mutating func advance(to z: Int, consume: (ArraySlice<Float>, Range<Int>) throws -> Void) throws {
        let n = z - base
        guard n > 0 else { return }
        let roiD = window.roi[0], plane = slicePlane
        let lo = max(base, padLow[0]), hi = min(z, padLow[0] + size[0])
        // Finished slices go on in chunks of about `handOnFloats` (at least one slice), so handing them on
        // never costs a second slab.
        let (oH, oW) = (size[1], size[2])
        let outPlane = oH * oW
        let chunkDepth = max(1, window.handOnFloats / max(1, channels * outPlane))
        var chunkStart = lo
        while chunkStart < hi {
            let chunkEnd = min(hi, chunkStart + chunkDepth), depth = chunkEnd - chunkStart
            var slab = [Float](repeating: 0, count: channels * depth * outPlane)
            for c in 0..<channels {
                for d in chunkStart..<chunkEnd {
                    let from = (d - base) * plane
                    let to = (c * depth + d - chunkStart) * outPlane
                    for h in 0..<oH {
                        let row = from + (h + padLow[1]) * padded[2] + padLow[2]
                        for w in 0..<oW { slab[to + h * oW + w] = sums[c * roiD * plane + row + w] / totals[row + w] }
                    }
                }
            }
            try consume(slab[...], (chunkStart - padLow[0])..<(chunkEnd - padLow[0]))
            chunkStart = chunkEnd
        }
        let keep = max(0, roiD - n)
        for c in 0..<channels {
            let start = c * roiD * plane
            if keep > 0 {
                sums.withUnsafeMutableBufferPointer { p in
                    guard let b = p.baseAddress else { return }
                    (b + start).update(from: b + start + n * plane, count: keep * plane)
                }
            }
            for i in (start + keep * plane)..<(start + roiD * plane) { sums[i] = 0 }
        }
        if keep > 0 {
            totals.withUnsafeMutableBufferPointer { p in
                guard let b = p.baseAddress else { return }
                b.update(from: b + n * plane, count: keep * plane)
            }
        }
        for i in (keep * plane)..<(roiD * plane) { totals[i] = 0 }
        base = z
    }

    /// Runs the windows at depth `z` (the slab's start) and heights/widths `positions`, as one batch, and
    /// adds their weighted outputs.
    mutating func run(_ positions: [(Int, Int)], depth z: Int) throws {
        precondition(z == base, "windows run only at the slab's start")
        let roi = window.roi, cin = network.inChannels
        var batch = Tensor(zeros: [positions.count, cin] + roi)
        let inPlane = size[1] * size[2], inSpatial = size.reduce(1, *)
        for (b, (y, x)) in positions.enumerated() {
            for c in 0..<cin {
                for d in 0..<roi[0] {
                    let sd = z + d - padLow[0]
                    guard sd >= 0, sd < size[0] else { continue }
                    for h in 0..<roi[1] {
                        let sh = y + h - padLow[1]
                        guard sh >= 0, sh < size[1] else { continue }
                        let w0 = max(0, padLow[2] - x), w1 = min(roi[2], size[2] + padLow[2] - x)
                        guard w0 < w1 else { continue }
                        let from = c * inSpatial + sd * inPlane + sh * size[2] + x - padLow[2]
                        let to = ((b * cin + c) * roi[0] + d) * roi[1] * roi[2] + h * roi[2]
                        for w in w0..<w1 { batch.data[to + w] = input.data[from + w] }
                    }
                }
            }
        }
        let output = try forwardMirrored(batch)
        guard output.shape == [positions.count, channels] + roi else {
            throw NNError.invalidInput("sliding window: the network returned \(output.shape) for windows \([positions.count, cin] + roi)")
        }
        let plane = slicePlane, roiD = roi[0]
        for (b, (y, x)) in positions.enumerated() {
            for d in 0..<roi[0] { for h in 0..<roi[1] {
                let row = d * plane + (y + h) * padded[2] + x
                let wrow = (d * roi[1] + h) * roi[2]
                for c in 0..<channels {
                    let out = ((b * channels + c) * roi[0] + d) * roi[1] * roi[2] + h * roi[2]
                    let sum = c * roiD * plane + row
                    for w in 0..<roi[2] { sums[sum + w] += output.data[out + w] * weights[wrow + w] }
                }
                for w in 0..<roi[2] { totals[row + w] += weights[wrow + w] }
            } }
        }
    }

    /// The network's output, averaged over every combination of flips of the mirror axes (each flipped back).
    private func forwardMirrored(_ x: Tensor) throws -> Tensor {
        let axes = window.mirrorAxes
        guard !axes.isEmpty else { return try network.forward(x) }
        var mean = try network.forward(x)
        for subset in 1..<(1 << axes.count) {
            let flips = axes.indices.filter { subset & (1 << $0) != 0 }.map { axes[$0] }
            let y = try TensorOps.flip(network.forward(TensorOps.flip(x, spatialAxes: flips)), spatialAxes: flips)
            for i in 0..<mean.count { mean.data[i] += y.data[i] }
        }
        let scale = 1 / Float(1 << axes.count)
        for i in 0..<mean.count { mean.data[i] *= scale }
        return mean
    }
}
