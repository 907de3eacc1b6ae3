import Foundation
import VoxelCore

/// Sliding-window inference, as MONAI's `sliding_window_inference`: the volume is covered by ROI-sized
/// windows overlapping by `overlap` (the last window on each axis is moved back inside the volume), the
/// network runs on batches of windows, and each voxel's output is the average of the windows' outputs
/// weighted by an importance map (a Gaussian with σ = `sigmaScale` × ROI, nnU-Net's and MONAI's
/// `mode="gaussian"`, or constant). A volume smaller than the ROI is padded with zeros, centred.
///
/// Memory stays bounded: windows run in order of their depth start and the weighted sums live in a slab of
/// `outChannels × roi.D × H × W` floats that rolls along the depth axis; finished slices are handed on and
/// dropped. `labels` therefore never holds full-resolution scores for all classes; `predict` (which returns
/// them) is for tests and small volumes.
///
/// Tensors are NCDHW (`N = 1`); the ROI, sizes and mirror axes are given in (D, H, W) order — for a
/// volume of size (nx, ny, nz), D = z, H = y, W = x.
public struct SlidingWindow: Sendable {
    /// How window outputs are weighted where windows overlap.
    public enum Blend: Sendable, Equatable {
        /// Every voxel of a window weighs the same.
        case constant
        /// A Gaussian centred on the window, σ = `sigmaScale` × ROI size on each axis (MONAI: 0.125).
        case gaussian(sigmaScale: Double)
    }

    /// How per-voxel scores become labels.
    public enum LabelRule: Sendable, Equatable {
        /// The channel with the highest score (softmax outputs; softmax does not change the order).
        case argmax
        /// Multi-label sigmoid outputs: 1 + the highest channel whose sigmoid reaches `threshold`, else 0.
        case sigmoid(threshold: Float)
    }

    /// Window size along (D, H, W), voxels.
    public var roi: [Int]
    /// Fraction of the ROI shared by neighbouring windows, in [0, 1).
    public var overlap: Double
    public var blend: Blend
    /// Windows run through the network together.
    public var batchSize: Int
    /// Spatial axes (0 = D, 1 = H, 2 = W) to mirror for test-time augmentation: the network also runs on
    /// every combination of flips and the un-flipped outputs are averaged (nnU-Net's mirroring). Empty: off.
    public var mirrorAxes: [Int]
    /// Largest chunk of finished scores handed on at once, in floats (at least one slice is handed on).
    var handOnFloats = 32 << 20

    /// Checks and stores the settings.
    /// - Throws: `NNError.invalidInput` for a ROI that is not three positive sizes, an overlap outside
    ///   [0, 1), a batch below 1, or mirror axes outside 0…2.
    public init(roi: [Int], overlap: Double = 0.5, blend: Blend = .gaussian(sigmaScale: 0.125), batchSize: Int = 1, mirrorAxes: [Int] = []) throws {
        guard roi.count == 3, roi.allSatisfy({ $0 > 0 }) else { throw NNError.invalidInput("sliding window: ROI must be three positive sizes, got \(roi)") }
        guard overlap >= 0, overlap < 1 else { throw NNError.invalidInput("sliding window: overlap must be in [0, 1), got \(overlap)") }
        guard batchSize >= 1 else { throw NNError.invalidInput("sliding window: batch size must be at least 1") }
        guard mirrorAxes.allSatisfy({ (0...2).contains($0) }), Set(mirrorAxes).count == mirrorAxes.count else {
            throw NNError.invalidInput("sliding window: mirror axes must be distinct values in 0…2, got \(mirrorAxes)")
        }
        if case .gaussian(let s) = blend, !(s > 0) { throw NNError.invalidInput("sliding window: sigma scale must be positive") }
        self.roi = roi
        self.overlap = overlap
        self.blend = blend
        self.batchSize = batchSize
        self.mirrorAxes = mirrorAxes
    }

    /// The weight of each voxel of a window (ROI-sized, W fastest), as MONAI's `compute_importance_map`:
    /// a product of 1-D Gaussians `exp(−x² / 2σ²)` with x measured from the window's centre, clamped below
    /// at the smallest value or 1e-3, whichever is larger.
    public func importanceMap() -> [Float] {
        let count = roi.reduce(1, *)
        guard case .gaussian(let sigmaScale) = blend else { return [Float](repeating: 1, count: count) }
        let axes: [[Float]] = roi.map { n in
            let sigma = Double(n) * sigmaScale
            let denominator = Float(-2 * sigma * sigma)
            return (0..<n).map { i in let x = Float(i) - Float(n - 1) / 2; return Foundation.exp(x * x / denominator) }
        }
        var map = [Float](repeating: 0, count: count)
        var i = 0
        for d in 0..<roi[0] { for h in 0..<roi[1] { for w in 0..<roi[2] {
            map[i] = axes[0][d] * axes[1][h] * axes[2][w]
            i += 1
        } } }
        let floor = max(map.min() ?? 1, 1e-3)
        for j in map.indices where map[j] < floor { map[j] = floor }
        return map
    }

    /// Window start positions along one axis of (padded) length `size`, as MONAI's `dense_patch_slices`:
    /// steps of `Int(roi · (1 − overlap))` (the whole ROI when it equals the size), the last start moved
    /// back so the window ends at the border.
    public func starts(size: Int, axis: Int) -> [Int] {
        let r = roi[axis]
        guard size > r else { return [0] }
        let interval = max(1, Int(Double(r) * (1 - overlap)))
        var starts: [Int] = []
        var i = 0
        while true {
            let start = i * interval
            starts.append(min(start, size - r))
            if start + r >= size { break }
            i += 1
        }
        return starts
    }

    /// Number of windows the volume of spatial size `size` (D, H, W) needs.
    public func windowCount(size: [Int]) -> Int {
        (0..<3).map { starts(size: max(size[$0], roi[$0]), axis: $0).count }.reduce(1, *)
    }

    /// The averaged network output for the whole volume, `1 × outChannels × D × H × W` — MONAI's result.
    /// Holds every class at full resolution; use `labels` when only labels are needed.
    /// - Throws: `NNError.invalidInput` for a batch other than 1, a classifier, or a ROI the network cannot take.
    public func predict(_ input: Tensor, network: any Network, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Tensor {
        let size = Array(input.shape[2...])
        let spatial = size.reduce(1, *)
        var output = Tensor(zeros: [1, network.outChannels] + size)
        try stream(input, network: network, progress: progress) { slab, depths in
            let plane = size[1] * size[2]
            for c in 0..<network.outChannels {
                let from = c * depths.count * plane
                output.data.replaceSubrange((c * spatial + depths.lowerBound * plane)..<(c * spatial + depths.upperBound * plane),
                                            with: slab[(slab.startIndex + from)..<(slab.startIndex + from + depths.count * plane)])
            }
        }
        return output
    }

    /// Labels for every voxel (D × H × W, W fastest; `.uint8` up to 256 labels, else `.uint16`), with only a
    /// rolling slab of scores in memory.
    /// - Throws: `NNError.invalidInput` as `predict`, or for more than 65,536 labels.
    public func labels(_ input: Tensor, network: any Network, rule: LabelRule = .argmax,
                       progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> VoxelArray {
        let channels = network.outChannels
        let labelCount = rule == .argmax ? channels : channels + 1
        guard labelCount <= 65_536 else { throw NNError.invalidInput("sliding window: \(labelCount) labels do not fit 16 bits") }
        let size = Array(input.shape[2...])
        let plane = size[1] * size[2], count = size.reduce(1, *)
        var small = [UInt8](repeating: 0, count: labelCount <= 256 ? count : 0)
        var wide = [UInt16](repeating: 0, count: labelCount <= 256 ? 0 : count)
        let cut: Float
        if case .sigmoid(let threshold) = rule { cut = Foundation.log(threshold / (1 - threshold)) } else { cut = 0 }
        try stream(input, network: network, progress: progress) { slab, depths in
            let voxels = depths.count * plane, offset = depths.lowerBound * plane
            let base = slab.startIndex
            for v in 0..<voxels {
                var best = 0, bestScore = slab[base + v]
                for c in 1..<max(1, channels) where slab[base + c * voxels + v] > bestScore {
                    best = c
                    bestScore = slab[base + c * voxels + v]
                }
                let label: Int
                switch rule {
                case .argmax: label = best
                case .sigmoid: label = bestScore >= cut ? best + 1 : 0
                }
                if wide.isEmpty { small[offset + v] = UInt8(label) } else { wide[offset + v] = UInt16(label) }
            }
        }
        return wide.isEmpty ? .uint8(small) : .uint16(wide)
    }

    /// Runs every window and hands on finished depth slices in order: `consume(slab, depths)` receives the
    /// averaged outputs `outChannels × depths.count × H × W` for the input's depth slices `depths`.
    /// - Throws: `NNError.invalidInput` for a batch other than 1, a classifier, or a ROI the network cannot take.
    public func stream(_ input: Tensor, network: any Network, progress: (@Sendable (Int, Int) -> Void)? = nil,
                       consume: (ArraySlice<Float>, Range<Int>) throws -> Void) throws {
        guard input.shape.count == 5, input.shape[0] == 1, input.shape[1] == network.inChannels else {
            throw NNError.invalidInput("sliding window expects 1 × \(network.inChannels) × D × H × W, got \(input.shape)")
        }
        guard !network.isClassifier else { throw NNError.invalidInput("sliding window needs a segmentation network, not a classifier") }
        let multiples = network.sizeMultiples
        guard (0..<3).allSatisfy({ roi[$0] % multiples[$0] == 0 }) else {
            throw NNError.invalidInput("sliding window: ROI \(roi) must be a multiple of \(multiples) (per axis) for this network")
        }
        var plan = try SlidingWindowPlan(self, input: input, network: network)
        let total = plan.depthStarts.count * plan.heightStarts.count * plan.widthStarts.count
        var done = 0
        for z in plan.depthStarts {
            try plan.advance(to: z, consume: consume)
            var positions: [(Int, Int)] = []
            for y in plan.heightStarts { for x in plan.widthStarts { positions.append((y, x)) } }
            var next = 0
            while next < positions.count {
                let batch = Array(positions[next..<min(positions.count, next + batchSize)])
                try plan.run(batch, depth: z)
                next += batch.count
                done += batch.count
                progress?(done, total)
            }
        }
        try plan.advance(to: plan.padded[0], consume: consume)
    }
}
