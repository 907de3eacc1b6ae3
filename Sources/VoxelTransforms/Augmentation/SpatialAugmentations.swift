import VoxelCore
import VoxelSupport

/// Flips each axis independently with probability `probability` (image and label together). Exact: a
/// re-indexing, geometry updated so world positions stay consistent (as MONAI's MetaTensor does).
public struct RandomFlip: Codable, Sendable, Equatable {
    /// Chance of flipping each of i, j, k.
    public var probability: Double
    /// Which axes may flip.
    public var axes: [Int]

    /// Creates the augmentation.
    public init(probability: Double = 0.5, axes: [Int] = [0, 1, 2]) throws {
        guard (0...1).contains(probability), axes.allSatisfy({ (0...2).contains($0) }) else {
            throw TransformError.invalidParameter("probability must be in 0…1 and axes in 0…2")
        }
        self.probability = probability
        self.axes = axes
    }

    /// Draws and applies the flips.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        var flips = [false, false, false]
        for a in axes { flips[a] = rng.unit() < probability }
        let s = sample.image.geometry.size
        let p = AxisPermutation(axes: [0, 1, 2], flips: flips, inputSize: [s.x, s.y, s.z])
        return try sample.permuted(by: p)
    }
}

/// Rotates by k × 90° (k drawn from 0…3) in a plane of two axes, with probability `probability`.
public struct RandomRotate90: Codable, Sendable, Equatable {
    public var probability: Double
    /// The two axes of the rotation plane.
    public var plane: [Int]

    /// Creates the augmentation.
    public init(probability: Double = 0.5, plane: [Int] = [0, 1]) throws {
        guard (0...1).contains(probability), plane.count == 2, plane[0] != plane[1], plane.allSatisfy({ (0...2).contains($0) }) else {
            throw TransformError.invalidParameter("probability must be in 0…1 and plane two different axes in 0…2")
        }
        self.probability = probability
        self.plane = plane
    }

    /// Draws and applies the rotation.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        let turns = Int(rng.next() % 4)
        guard happens, turns > 0 else { return sample }
        var result = sample
        for _ in 0..<turns {
            let s = result.image.geometry.size
            // One quarter turn: the two plane axes swap, the new first one runs backwards.
            var axes = [0, 1, 2], flips = [false, false, false]
            axes[plane[0]] = plane[1]
            axes[plane[1]] = plane[0]
            flips[plane[0]] = true
            result = try result.permuted(by: AxisPermutation(axes: axes, flips: flips, inputSize: [s.x, s.y, s.z]))
        }
        return result
    }
}

extension AugmentationSample {
    /// The sample with image and label re-indexed by `p`.
    func permuted(by p: AxisPermutation) throws -> AugmentationSample {
        let image = try p.apply(self.image)
        let label = try self.label.map { try LabelMap(p.apply($0.volume)) }
        return try AugmentationSample(image: image, label: label)
    }
}
