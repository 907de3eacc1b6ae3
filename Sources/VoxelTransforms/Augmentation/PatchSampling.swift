import VoxelCore
import VoxelSupport

/// Training patches centred on label voxels with probability `positiveFraction` (a random non-zero label
/// voxel) or anywhere otherwise (a random voxel), MONAI's `RandCropByPosNegLabel` idea. Patches reaching
/// outside the grid are padded with `fill` (image, physical units) and 0 (label). Image and label share
/// every window.
public struct PatchSampler: Codable, Sendable, Equatable {
    /// Patch size (i, j, k).
    public var size: [Int]
    /// Share of patches centred on a foreground voxel (0…1).
    public var positiveFraction: Double
    /// Image value outside the grid.
    public var fill: Double

    /// Creates the sampler.
    public init(size: [Int], positiveFraction: Double = 0.5, fill: Double = 0) throws {
        guard size.count == 3, size.allSatisfy({ $0 > 0 }), (0...1).contains(positiveFraction) else {
            throw TransformError.invalidParameter("size must be 3 positive integers and positiveFraction in 0…1")
        }
        self.size = size
        self.positiveFraction = positiveFraction
        self.fill = fill
    }

    /// One drawn patch: the samples and the centre it was taken around (voxel index of the input).
    public struct Patch: Sendable {
        public var sample: AugmentationSample
        public var centre: [Int]
        public var positive: Bool
    }

    /// Draws `count` patches. A sample without label (or with an empty one) gives only random centres.
    public func sample(_ input: AugmentationSample, count: Int, using rng: inout SeededGenerator) throws -> [Patch] {
        let g = input.image.geometry
        let dims = [g.size.x, g.size.y, g.size.z]
        var foreground: [Int] = []
        if let label = input.label {
            for n in 0..<label.volume.voxels.count where label.volume.voxels.value(at: n) != 0 { foreground.append(n) }
        }
        var patches: [Patch] = []
        for _ in 0..<count {
            let wantPositive = rng.unit() < positiveFraction && !foreground.isEmpty
            let linear = wantPositive ? foreground[Int(rng.next() % UInt64(foreground.count))] : Int(rng.next() % UInt64(g.voxelCount))
            let centre = [linear % dims[0], (linear / dims[0]) % dims[1], linear / (dims[0] * dims[1])]
            let window = try GridWindow(offset: (0..<3).map { centre[$0] - size[$0] / 2 }, size: size, inputSize: dims)
            let image = try window.apply(input.image, fill: fill)
            let label = try input.label.map { try LabelMap(window.apply($0.volume)) }
            patches.append(Patch(sample: try AugmentationSample(image: image, label: label), centre: centre, positive: wantPositive))
        }
        return patches
    }
}
