import VoxelCore
import VoxelSupport

/// Random rotation (about each axis, radians drawn from ±`maxRotation`), isotropic scale (from
/// `scaleRange`) and translation (mm, ±`maxTranslation`) about the grid centre, with probability
/// `probability`. The image is resampled linearly, the label with nearest neighbour, from the same draw,
/// onto the original grid (so shapes and geometry stay those of the input).
public struct RandomAffine: Codable, Sendable, Equatable {
    public var probability: Double
    public var maxRotation: [Double]
    public var scaleRange: ClosedRange<Double>
    public var maxTranslation: [Double]
    /// Image value where the moved grid leaves the image.
    public var fill: Double

    /// Creates the augmentation.
    public init(probability: Double = 0.5, maxRotation: [Double] = [0.2, 0.2, 0.2], scaleRange: ClosedRange<Double> = 0.9...1.1,
                maxTranslation: [Double] = [5, 5, 5], fill: Double = 0) throws {
        guard (0...1).contains(probability), maxRotation.count == 3, maxTranslation.count == 3, scaleRange.lowerBound > 0 else {
            throw TransformError.invalidParameter("probability in 0…1, three rotations, three translations and a positive scale range are needed")
        }
        self.probability = probability
        self.maxRotation = maxRotation
        self.scaleRange = scaleRange
        self.maxTranslation = maxTranslation
        self.fill = fill
    }

    /// The sampling grid: the input grid moved by rotation R, scale s and translation t about its centre.
    /// Output voxel centres map to world points c + s·R·(p − c) + t of the input.
    static func movedGrid(_ g: Geometry, angles: [Double], scale: Double, translation: [Double]) -> Geometry {
        func rotation(_ axis: Int, _ a: Double) -> Matrix3 {
            let c = Math.cos(a), s = Math.sin(a)
            switch axis {
            case 0: return Matrix3(rows: [1, 0, 0, 0, c, -s, 0, s, c])
            case 1: return Matrix3(rows: [c, 0, s, 0, 1, 0, -s, 0, c])
            default: return Matrix3(rows: [c, -s, 0, s, c, 0, 0, 0, 1])
            }
        }
        let r = rotation(2, angles[2]) * rotation(1, angles[1]) * rotation(0, angles[0])
        let centreIndex = SIMD3(Double(g.size.x - 1) / 2, Double(g.size.y - 1) / 2, Double(g.size.z - 1) / 2)
        let centre = g.worldPoint(atIndex: centreIndex)
        let move = Affine(linear: Matrix3(rows: r.values.map { $0 * scale }), translation: .zero)
        let t = SIMD3(translation[0], translation[1], translation[2])
        let newAffine = Affine(linear: move.linear, translation: centre - move.linear * centre + t) * g.affine
        return Geometry(size: g.size, affine: newAffine)
    }

    /// Draws and applies the transform.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        let angles = maxRotation.map { rng.uniform(-$0...$0) }
        let scale = rng.uniform(scaleRange)
        let shift = maxTranslation.map { rng.uniform(-$0...$0) }
        guard happens else { return sample }
        let grid = Self.movedGrid(sample.image.geometry, angles: angles, scale: scale, translation: shift)
        var image = try ResampleToGrid(target: grid, interpolation: .linear, fill: fill).apply(sample.image)
        var label = try sample.label.map { try ResampleToGrid(target: grid, interpolation: .nearest).apply($0.volume) }
        // Back on the input's grid description: the content moved, the grid did not.
        let original = sample.image.geometry
        image = try Volume(geometry: original, voxels: image.voxels, timePoints: image.timePoints, timeStep: image.timeStep,
                           scaling: image.scaling, metadata: image.metadata)
        if let l = label { label = try Volume(geometry: original, voxels: l.voxels, scaling: l.scaling, metadata: l.metadata) }
        return try AugmentationSample(image: image, label: label.map { try LabelMap($0) })
    }
}
