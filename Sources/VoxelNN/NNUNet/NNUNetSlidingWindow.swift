import Foundation

/// nnU-Net v2's sliding-window prediction (`predict_sliding_window_return_logits`), reproduced to the bit
/// where nnU-Net rounds: the image is padded (zeros, centred) to at least the patch size; tiles start at
/// `compute_steps_for_sliding_window` positions (step ≤ `tileStep` × patch, spread evenly); each tile's
/// logits (averaged over mirrorings) are weighted by nnU-Net's Gaussian importance map (σ = patch / 8,
/// scaled to a peak of 10, held in float16) and summed into float16 accumulators, which are finally divided
/// by the summed weights — the accumulators hold half precision because nnU-Net's do, which also keeps the
/// memory at nnU-Net's (2 bytes per class and voxel). 2-D configurations run every slice of axis 0 with a
/// `1 × H × W` patch.
public struct NNUNetSlidingWindow: Sendable {
    /// Patch size along (axis 0, 1, 2); axis 0 is 1 for 2-D configurations.
    public let patch: [Int]
    public let is2D: Bool
    /// Largest step as a fraction of the patch (nnU-Net's `tile_step_size`, default 0.5).
    public let tileStep: Double
    /// Spatial axes (0…2 of the padded image) to mirror; empty: no test-time mirroring.
    public let mirrorAxes: [Int]

    /// - Parameters:
    ///   - patchSize: the plan's patch size (2 or 3 entries).
    ///   - mirrorAxes: nnU-Net's `inference_allowed_mirroring_axes` (axes of the patch), or empty.
    public init(patchSize: [Int], tileStep: Double = 0.5, mirrorAxes: [Int]) throws {
        guard tileStep > 0, tileStep <= 1 else { throw NNError.invalidInput("nnU-Net: tile step must be in (0, 1], got \(tileStep)") }
        is2D = patchSize.count == 2
        patch = is2D ? [1] + patchSize : patchSize
        self.tileStep = tileStep
        let flat = patchSize.count == 2
        let axes = mirrorAxes.map { flat ? $0 + 1 : $0 }
        self.mirrorAxes = axes
        guard axes.allSatisfy({ (0...2).contains($0) }) else {
            throw NNError.invalidInput("nnU-Net: mirror axes \(mirrorAxes) do not fit a \(patchSize.count)-D patch")
        }
    }

    /// nnU-Net's `compute_steps_for_sliding_window` along one axis.
    public static func steps(size: Int, tile: Int, step: Double) -> [Int] {
        let target = Double(tile) * step
        let count = Int((Double(size - tile) / target).rounded(.up)) + 1
        guard count > 1 else { return [0] }
        let actual = Double(size - tile) / Double(count - 1)
        return (0..<count).map { Int((actual * Double($0)).rounded(.toNearestOrEven)) }
    }

    /// nnU-Net's `compute_gaussian(patch, 1/8, value_scaling_factor: 10)` in float16, zeros replaced by the
    /// smallest non-zero value; W fastest.
    public func importanceMap() -> [Float16] {
        let sizes = is2D ? Array(patch[1...]) : patch
        // SciPy's normalised, truncated (4σ) 1-D kernels, centred at size // 2.
        let kernels: [[Double]] = sizes.map { n in
            let sigma = Double(n) / 8, radius = Int(4 * sigma + 0.5)
            let raw = (-radius...radius).map { Foundation.exp(-0.5 / (sigma * sigma) * Double($0 * $0)) }
            let sum = raw.reduce(0, +)
            return (0..<n).map { i in let d = i - n / 2; return abs(d) <= radius ? raw[d + radius] / sum : 0 }
        }
        var peak = 1.0
        for (k, n) in zip(kernels, sizes) { peak *= k[n / 2] }
        let full = is2D ? [1] + sizes : sizes
        var map = [Float16](repeating: 0, count: full.reduce(1, *))
        var i = 0
        for a in 0..<full[0] { for b in 0..<full[1] { for c in 0..<full[2] {
            let v = is2D ? kernels[0][b] * kernels[1][c] : kernels[0][a] * kernels[1][b] * kernels[2][c]
            map[i] = Float16(Float(v / (peak / 10)))
            i += 1
        } } }
        let smallest = map.filter { $0 != 0 }.min() ?? 1
        for j in map.indices where map[j] == 0 { map[j] = smallest }
        return map
    }

    /// The averaged logits `classes × shape` (float16, axis 2 fastest) for channels of `shape`.
    /// - Throws: `NNError.invalidInput` when the network does not take the channels or the patch.
    public func logits(_ channels: [[Float]], shape: [Int], network: any Network, progress: ((Int, Int) -> Void)? = nil) throws -> [Float16] {
        let cin = channels.count, classes = network.outChannels
        // Pad to at least the patch, centred (2-D: in-plane only).
        let padded = (0..<3).map { max(shape[$0], patch[$0]) }
        let below = (0..<3).map { (padded[$0] - shape[$0]) / 2 }
        let spatial = padded.reduce(1, *)
        var data = [Float](repeating: 0, count: cin * spatial)
        for c in 0..<cin { for a in 0..<shape[0] { for b in 0..<shape[1] {
            let from = (a * shape[1] + b) * shape[2]
            let to = c * spatial + ((a + below[0]) * padded[1] + b + below[1]) * padded[2] + below[2]
            for x in 0..<shape[2] { data[to + x] = channels[c][from + x] }
        } } }
        let starts: [[Int]] = (0..<3).map { a in
            is2D && a == 0 ? Array(0..<padded[0]) : Self.steps(size: padded[a], tile: patch[a], step: tileStep)
        }
        let gaussian = importanceMap()
        let gaussianFloat = gaussian.map(Float.init)
        var sums = [Float16](repeating: 0, count: classes * spatial)
        var weights = [Float16](repeating: 0, count: spatial)
        let tile = patch.reduce(1, *)
        let total = starts[0].count * starts[1].count * starts[2].count
        var done = 0
        var combos: [[Int]] = []
        for size in 1...max(1, mirrorAxes.count) where !mirrorAxes.isEmpty { combos += Self.combinations(mirrorAxes, size) }
        for z in starts[0] { for y in starts[1] { for x in starts[2] {
            var input = Tensor(zeros: [1, cin] + patch)
            for c in 0..<cin { for a in 0..<patch[0] { for b in 0..<patch[1] {
                let from = c * spatial + ((z + a) * padded[1] + y + b) * padded[2] + x
                let to = ((c * patch[0] + a) * patch[1] + b) * patch[2]
                for w in 0..<patch[2] { input.data[to + w] = data[from + w] }
            } } }
            var prediction = try network.forward(input)
            if !combos.isEmpty {
                for axes in combos {
                    let mirrored = try TensorOps.flip(network.forward(TensorOps.flip(input, spatialAxes: axes)), spatialAxes: axes)
                    for i in prediction.data.indices { prediction.data[i] += mirrored.data[i] }
                }
                let n = Float(combos.count + 1)
                for i in prediction.data.indices { prediction.data[i] /= n }
            }
            guard prediction.shape == [1, classes] + patch else {
                throw NNError.invalidInput("nnU-Net: the network returned \(prediction.shape) for a \(patch) patch")
            }
            for a in 0..<patch[0] { for b in 0..<patch[1] {
                let row = ((z + a) * padded[1] + y + b) * padded[2] + x
                let prow = (a * patch[1] + b) * patch[2]
                for w in 0..<patch[2] {
                    let g = gaussianFloat[prow + w]
                    for c in 0..<classes {
                        let i = c * spatial + row + w
                        sums[i] = Float16(Float(sums[i]) + prediction.data[c * tile + prow + w] * g)
                    }
                    weights[row + w] = Float16(Float(weights[row + w]) + g)
                }
            } }
            done += 1
            progress?(done, total)
        } } }
        // Divide and remove the padding.
        let count = shape.reduce(1, *)
        var out = [Float16](repeating: 0, count: classes * count)
        for c in 0..<classes { for a in 0..<shape[0] { for b in 0..<shape[1] {
            let from = ((a + below[0]) * padded[1] + b + below[1]) * padded[2] + below[2]
            let to = c * count + (a * shape[1] + b) * shape[2]
            for x in 0..<shape[2] { out[to + x] = Float16(Float(sums[c * spatial + from + x]) / Float(weights[from + x])) }
        } } }
        return out
    }

    /// `itertools.combinations(items, size)` in its order.
    static func combinations(_ items: [Int], _ size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard items.count >= size else { return [] }
        var out: [[Int]] = []
        for (i, first) in items.enumerated() {
            for rest in combinations(Array(items[(i + 1)...]), size - 1) { out.append([first] + rest) }
        }
        return out
    }
}
