import VoxelSupport

/// The seeded random transforms of `VoxelTransforms` as stages of a training pipeline. `voxelflow train` lifts
/// them out of the preprocessing and applies them, in order, to every training sample (image and labels through
/// one draw), after the training section's `augmentation` list; they are the same transforms with the same
/// parameters. Outside a training pipeline they are refused: `voxelflow run` never draws random numbers into a
/// result.
enum AugmentationStages {
    /// Stage type → (the training section's augmentation type, its parameters).
    static let types: [(stage: String, augmentation: String, summary: String, parameters: [ParameterSpec])] = [
        ("random-flip", "flip", "Flip along each listed axis with probability p (image and labels together).",
         [ParameterSpec("axes", .array(of: .integer(0...2), count: 1...3), default: .array([.int(0), .int(1), .int(2)]), doc: "axes that may flip (0 = i, 1 = j, 2 = k)")]),
        ("random-rotate90", "rotate90", "Rotate by a random multiple of 90° in a plane with probability p.",
         [ParameterSpec("plane", .array(of: .integer(0...2), count: 2...2), default: .array([.int(0), .int(1)]), doc: "the two axes of the plane")]),
        ("random-affine", "affine", "Random rotation and scaling about the centre with probability p (labels nearest-neighbour).",
         [ParameterSpec("maxRotation", .array(of: .number(0...3.2), count: 3...3), default: .array([.number(0.2), .number(0.2), .number(0.2)]), doc: "largest rotation about each axis, radians"),
          ParameterSpec("scale", .array(of: .number(0.1...10), count: 2...2), default: .array([.number(0.9), .number(1.1)]), doc: "[low, high] scale factor per axis")]),
        ("random-elastic", "elastic", "Smooth random deformation on a grid of control points with probability p.",
         [ParameterSpec("controlPoints", .integer(4...64), default: .int(7), doc: "control points per axis"),
          ParameterSpec("maxDisplacement", .array(of: .number(0...1000), count: 3...3), default: .array([.number(7.5), .number(7.5), .number(7.5)]), doc: "largest displacement per axis, mm")]),
        ("random-gamma", "gamma", "Random gamma of the intensities (rescaled to 0…1 and back) with probability p.",
         [ParameterSpec("range", .array(of: .number(0.01...100), count: 2...2), default: .array([.number(0.7), .number(1.5)]), doc: "[low, high] gamma")]),
        ("random-noise", "noise", "Additive Gaussian noise of a random standard deviation with probability p.",
         [ParameterSpec("std", .array(of: .number(0...1e6), count: 2...2), default: .array([.number(0), .number(0.1)]), doc: "[low, high] standard deviation")]),
        ("random-contrast", "contrast", "Scale the intensities about their mean by a random factor with probability p.",
         [ParameterSpec("range", .array(of: .number(0...100), count: 2...2), default: .array([.number(0.75), .number(1.25)]), doc: "[low, high] factor")]),
        ("random-bias-field", "bias-field", "Multiply by a smooth random polynomial bias field with probability p.",
         [ParameterSpec("degree", .integer(1...8), default: .int(3), doc: "polynomial degree"),
          ParameterSpec("coefficient", .number(0...10), default: .number(0.3), doc: "largest coefficient")]),
        ("random-low-resolution", "low-resolution", "Downsample by a random factor and back with probability p.",
         [ParameterSpec("range", .array(of: .number(1...16), count: 2...2), default: .array([.number(1), .number(2)]), doc: "[low, high] downsampling factor")]),
    ]

    /// Stage type → the augmentation type of the training section.
    static let augmentationType = Dictionary(uniqueKeysWithValues: types.map { ($0.stage, $0.augmentation) })

    static var all: [StageDefinition] {
        types.map { t in
            StageDefinition(
                type: t.stage, category: .augmentation,
                summary: t.summary + " Training pipelines only.",
                parameters: [CommonParameters.source([.image]),
                             ParameterSpec("p", .number(0...1), default: .number(0.5), doc: "probability that the transform is applied to a sample")] + t.parameters,
                produces: .kind(.image),
                make: { c in AugmentationPlaceholder(stage: c.id) })
        }
    }

    /// The training-section form (`{"type", "p", …}`) of an augmentation stage.
    static func sectionEntry(_ stage: StageSpec) -> JSON? {
        guard let type = augmentationType[stage.type] else { return nil }
        var items: [(String, JSON)] = [("type", .string(type))]
        for (key, value) in stage.parameters.values.sorted(by: { $0.key < $1.key }) where key != "source" { items.append((key, value)) }
        return .object(items)
    }
}

/// An augmentation stage outside training: never run (validation and `voxelflow run` refuse such pipelines first).
struct AugmentationPlaceholder: Stage {
    let stage: String
    func run(_ context: inout CaseContext) throws -> StageValue? {
        throw RunError.stageSetup(stage: stage, type: "augmentation", reason: "augmentation stages run only in `voxelflow train`")
    }
}
