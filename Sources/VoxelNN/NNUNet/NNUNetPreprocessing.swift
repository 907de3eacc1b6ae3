/// nnU-Net v2's `DefaultPreprocessor` for inference, step for step: transpose, crop to the non-zero
/// bounding box (of the hole-filled non-zero mask of all channels), normalise each channel, resample to the
/// plan's spacing. Arrays are float32 in (axis 0, 1, 2) order, axis 2 fastest.
public enum NNUNetPreprocessing {
    /// The preprocessed case and what is needed to put a prediction back.
    public struct Result: Sendable {
        /// Channels on the network grid.
        public var channels: [[Float]]
        /// Their shape.
        public var shape: [Int]
        /// Shape after transposing, before cropping.
        public var shapeBeforeCropping: [Int]
        /// Half-open crop box per (transposed) axis.
        public var bbox: [Range<Int>]
        /// Spacing of the transposed input, mm.
        public var originalSpacing: [Double]
        /// Spacing on the network grid, mm (three entries).
        public var targetSpacing: [Double]
        public var shapeAfterCropping: [Int] { bbox.map(\.count) }
    }

    /// Runs the preprocessing on channels of `shape` with `spacing` (both in the image's (z, y, x) order).
    /// - Throws: `NNError.invalidInput` when the channel count does not match the plan.
    ///   - previous: for a cascade stage, the previous stage's labels on the same grid; they are cropped and
    ///     resampled as nnU-Net does a segmentation and appended as one 0/1 channel per `foregroundLabels`.
    public static func run(channels: [[Float]], shape: [Int], spacing: [Double], plans: NNUNetPlans,
                           previous: [UInt16]? = nil, foregroundLabels: [Int] = []) throws -> Result {
        guard channels.count == plans.normalization.count else {
            throw NNError.invalidInput("the model expects \(plans.normalization.count) input channel(s), got \(channels.count)")
        }
        let count = shape.reduce(1, *)
        guard channels.allSatisfy({ $0.count == count }) else { throw NNError.invalidInput("input channels differ in size") }
        let tShape = plans.transposeForward.map { shape[$0] }
        let tSpacing = plans.transposeForward.map { spacing[$0] }
        var data = channels.map { transpose($0, shape: shape, order: plans.transposeForward) }
        // Crop to the non-zero region.
        var mask = [Bool](repeating: false, count: count)
        for c in data { for i in 0..<count where c[i] != 0 { mask[i] = true } }
        mask = fillHoles(mask, shape: tShape)
        let bbox = boundingBox(mask, shape: tShape)
        let cropShape = bbox.map(\.count)
        data = data.map { crop($0, shape: tShape, box: bbox) }
        var cropMask = crop(mask, shape: tShape, box: bbox)
        // A previous stage's labels, as nnU-Net's `seg`: -1 outside the non-zero region where they are 0.
        var seg: [Int]?
        if let previous {
            guard previous.count == count else { throw NNError.invalidInput("the previous stage's labels do not match the image's size") }
            let cropped = crop(transpose(previous, shape: shape, order: plans.transposeForward), shape: tShape, box: bbox)
            let s = zip(cropped, cropMask).map { label, inside in label == 0 && !inside ? -1 : Int(label) }
            cropMask = s.map { $0 >= 0 }
            seg = s
        }
        // Target spacing (2-D configurations keep the spacing between slices).
        let target = plans.is2D ? [tSpacing[0]] + plans.spacing : plans.spacing
        let newShape = NNUNetResampling.newShape(cropShape, from: tSpacing, to: target)
        for c in data.indices { normalize(&data[c], mask: cropMask, scheme: plans.normalization[c]) }
        let r = plans.resamplingData
        let axis = NNUNetResampling.separateAxis(current: tSpacing, target: target, force: r.forceSeparateZ)
        if newShape != cropShape {
            data = try data.map { channel in
                try NNUNetResampling.resample(channel.map(Double.init), shape: cropShape, to: newShape, order: r.order, orderZ: r.orderZ, separateAxis: axis).map(Float.init)
            }
        }
        if let seg {
            let r = plans.resamplingSegmentation
            let segAxis = NNUNetResampling.separateAxis(current: tSpacing, target: target, force: r.forceSeparateZ)
            let resampled = try NNUNetResampling.resampleSegmentation(seg, shape: cropShape, to: newShape, order: r.order, orderZ: r.orderZ, separateAxis: segAxis)
            for label in foregroundLabels { data.append(resampled.map { $0 == label ? Float(1) : 0 }) }
        }
        return Result(channels: data, shape: newShape, shapeBeforeCropping: tShape, bbox: bbox, originalSpacing: tSpacing, targetSpacing: target)
    }

    /// The array with its axes permuted: output axis a is input axis `order[a]` (numpy's `transpose`).
    public static func transpose<T>(_ data: [T], shape: [Int], order: [Int]) -> [T] {
        if order == [0, 1, 2] { return data }
        let inStrides = [shape[1] * shape[2], shape[2], 1]
        let outShape = order.map { shape[$0] }
        let s = order.map { inStrides[$0] }
        var out: [T] = []
        out.reserveCapacity(data.count)
        for a in 0..<outShape[0] { for b in 0..<outShape[1] { for c in 0..<outShape[2] {
            out.append(data[a * s[0] + b * s[1] + c * s[2]])
        } } }
        return out
    }

    /// SciPy's `binary_fill_holes` in 3-D: background not 6-connected to the border becomes foreground.
    /// The flood from the border runs row by row (each background run of a row is filled at once and only
    /// its neighbouring rows are queued), so the queue holds rows, not voxels.
    static func fillHoles(_ mask: [Bool], shape: [Int]) -> [Bool] {
        let (n0, n1, n2) = (shape[0], shape[1], shape[2])
        var outside = [Bool](repeating: false, count: mask.count)
        var rows: [(Int, Int, Int)] = []   // (row index a·n1 + b, first x, last x) seeds to expand
        func seed(_ row: Int, _ x: Int) {
            let base = row * n2
            guard !mask[base + x], !outside[base + x] else { return }
            var lo = x, hi = x
            while lo > 0, !mask[base + lo - 1], !outside[base + lo - 1] { lo -= 1 }
            while hi < n2 - 1, !mask[base + hi + 1], !outside[base + hi + 1] { hi += 1 }
            for i in lo...hi { outside[base + i] = true }
            rows.append((row, lo, hi))
        }
        for a in 0..<n0 { for b in 0..<n1 {
            let row = a * n1 + b
            if a == 0 || b == 0 || a == n0 - 1 || b == n1 - 1 {
                for x in 0..<n2 { seed(row, x) }
            } else {
                seed(row, 0)
                seed(row, n2 - 1)
            }
        } }
        while let (row, lo, hi) = rows.popLast() {
            let a = row / n1, b = row % n1
            var neighbours: [Int] = []
            if a > 0 { neighbours.append(row - n1) }
            if a < n0 - 1 { neighbours.append(row + n1) }
            if b > 0 { neighbours.append(row - 1) }
            if b < n1 - 1 { neighbours.append(row + 1) }
            for next in neighbours { for x in lo...hi { seed(next, x) } }
        }
        return outside.map { !$0 }
    }

    /// The half-open bounding box of a mask; the whole array when the mask is empty (as acvl_utils).
    static func boundingBox(_ mask: [Bool], shape: [Int]) -> [Range<Int>] {
        var lo0 = shape[0], lo1 = shape[1], lo2 = shape[2], hi0 = 0, hi1 = 0, hi2 = 0
        mask.withUnsafeBufferPointer { m in
            var i = 0
            for a in 0..<shape[0] { for b in 0..<shape[1] {
                var first = -1, last = -1
                for c in 0..<shape[2] where m[i + c] {
                    if first < 0 { first = c }
                    last = c
                }
                i += shape[2]
                guard first >= 0 else { continue }
                lo0 = min(lo0, a); hi0 = max(hi0, a + 1)
                lo1 = min(lo1, b); hi1 = max(hi1, b + 1)
                lo2 = min(lo2, first); hi2 = max(hi2, last + 1)
            } }
        }
        if hi0 == 0 { return shape.map { 0..<$0 } }
        return [lo0..<hi0, lo1..<hi1, lo2..<hi2]
    }

    static func crop<T>(_ data: [T], shape: [Int], box: [Range<Int>]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(box.map(\.count).reduce(1, *))
        for a in box[0] { for b in box[1] {
            let base = (a * shape[1] + b) * shape[2]
            out.append(contentsOf: data[(base + box[2].lowerBound)..<(base + box[2].upperBound)])
        } }
        return out
    }

    /// One channel's normalisation, in float32 as nnU-Net computes it (statistics in double precision).
    static func normalize(_ x: inout [Float], mask: [Bool], scheme: NNUNetPlans.Normalization) {
        switch scheme {
        case let .ct(mean, std, lower, upper):
            let m = Float(mean), s = Float(max(std, 1e-8)), lo = Float(lower), hi = Float(upper)
            for i in x.indices { x[i] = (min(max(x[i], lo), hi) - m) / s }
        case .zScore(let useMask):
            var sum = 0.0, n = 0
            for i in x.indices where !useMask || mask[i] { sum += Double(x[i]); n += 1 }
            guard n > 0 else { return }
            let mean = sum / Double(n)
            var sq = 0.0
            for i in x.indices where !useMask || mask[i] { let d = Double(x[i]) - mean; sq += d * d }
            let m = Float(mean), s = Float(max((sq / Double(n)).squareRoot(), 1e-8))
            for i in x.indices where !useMask || mask[i] { x[i] = (x[i] - m) / s }
        case .rescaleTo01:
            guard let lo = x.min() else { return }
            for i in x.indices { x[i] -= lo }
            let hi = max(x.max() ?? 1, 1e-8)
            for i in x.indices { x[i] /= hi }
        case .rgbTo01:
            for i in x.indices { x[i] /= 255 }
        case .none:
            break
        }
    }
}
