import VoxelCore
import VoxelTransforms

/// Built-in label stages: thresholding an image into a mask, and postprocessing of label maps.
enum LabelStages {
    static let all = [threshold, connectedComponents, keepLargest, fillHoles, removeSmall, remap, morphology, oneHot]

    static let threshold = StageDefinition(
        type: "threshold", category: .labels,
        summary: "Label the voxels whose physical value (HU for CT) lies in [lower, upper] (uint8 label map).",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("lower", .number(-1e12...1e12), optional: true, doc: "smallest value included (no lower bound when absent)"),
            ParameterSpec("upper", .number(-1e12...1e12), optional: true, doc: "largest value included (no upper bound when absent)"),
            ParameterSpec("label", .integer(1...255), default: .int(1), doc: "label given to the voxels in range"),
        ],
        produces: .kind(.labels),
        make: { c in
            let lower = c.parameters.double("lower"), upper = c.parameters.double("upper")
            guard lower != nil || upper != nil else { throw CaseError.invalidParameters(stage: nil, reason: "give \"lower\", \"upper\" or both") }
            if let lower, let upper, lower > upper { throw CaseError.invalidParameters(stage: nil, reason: "lower (\(lower)) is above upper (\(upper))") }
            return ThresholdStage(source: try c.string("source"), lower: lower ?? -.infinity, upper: upper ?? .infinity,
                                  label: UInt8(try c.int("label")))
        })

    static let connectedComponents = StageDefinition(
        type: "connected-components", category: .labels,
        summary: "Number the connected components of the non-zero voxels 1, 2, … (int32; scipy.ndimage.label order).",
        parameters: [CommonParameters.source([.labels]), CommonParameters.connectivity],
        produces: .kind(.labels),
        make: { c in
            let t = ConnectedComponents(connectivity: try CommonParameters.connectivityValue(c))
            return LabelStage(source: try c.string("source")) { try t.apply($0).labels }
        })

    static let keepLargest = StageDefinition(
        type: "keep-largest-component", category: .labels,
        summary: "Keep only the largest connected component of each label.",
        parameters: [CommonParameters.source([.labels]), CommonParameters.connectivity],
        produces: .kind(.labels),
        make: { c in
            let t = KeepLargestComponent(connectivity: try CommonParameters.connectivityValue(c))
            return LabelStage(source: try c.string("source"), transform: t.apply)
        })

    static let fillHoles = StageDefinition(
        type: "fill-holes", category: .labels,
        summary: "Fill enclosed background holes of a binary mask (scipy binary_fill_holes); output 0/1.",
        parameters: [CommonParameters.source([.labels])],
        produces: .kind(.labels),
        make: { c in LabelStage(source: try c.string("source"), transform: FillHoles().apply) })

    static let removeSmall = StageDefinition(
        type: "remove-small-components", category: .labels,
        summary: "Remove connected components smaller than a volume in mL (per label).",
        parameters: [
            CommonParameters.source([.labels]),
            ParameterSpec("minVolumeML", .number(0...1e9), doc: "components below this volume (mL = cm³) become background"),
            CommonParameters.connectivity,
        ],
        produces: .kind(.labels),
        make: { c in
            let t = try RemoveSmallComponents(minimumMillilitres: try c.double("minVolumeML"),
                                              connectivity: try CommonParameters.connectivityValue(c))
            return LabelStage(source: try c.string("source"), transform: t.apply)
        })

    static let remap = StageDefinition(
        type: "remap-labels", category: .labels,
        summary: "Replace label numbers by a mapping; unmapped labels are kept or dropped.",
        parameters: [
            CommonParameters.source([.labels]),
            ParameterSpec("mapping", .labelMapping, doc: "old label → new label, e.g. {\"2\": 1, \"3\": 1}"),
            ParameterSpec("dropUnmapped", .boolean, default: .bool(false), doc: "set labels missing from the mapping to 0"),
        ],
        produces: .kind(.labels),
        make: { c in
            let t = try RemapLabels(mapping: try c.labelMapping("mapping"), dropUnmapped: try c.bool("dropUnmapped"))
            return LabelStage(source: try c.string("source"), transform: t.apply)
        })

    static let morphology = StageDefinition(
        type: "morphology", category: .labels,
        summary: "Binary erosion or dilation of the non-zero voxels (output 0/1).",
        parameters: [
            CommonParameters.source([.labels]),
            ParameterSpec("operation", .choice(["erode", "dilate"]), doc: "erode shrinks the mask, dilate grows it"),
            ParameterSpec("iterations", .integer(1...1000), default: .int(1), doc: "times the operation is repeated (voxels)"),
            ParameterSpec("connectivity", .choice(["6", "18", "26"]), default: .string("6"), doc: "structuring element: 6 (cross), 18, 26 (cube)"),
        ],
        produces: .kind(.labels),
        make: { c in
            let op = try c.choice("operation", as: BinaryMorphology.Operation.self)
            let t = try BinaryMorphology(op, connectivity: try CommonParameters.connectivityValue(c), iterations: try c.int("iterations"))
            return LabelStage(source: try c.string("source"), transform: t.apply)
        })
}

extension LabelStages {
    static let oneHot = StageDefinition(
        type: "one-hot", category: .labels,
        summary: "One channel per class (float32 image, channels on the fourth axis), as MONAI AsDiscrete(to_onehot).",
        parameters: [
            CommonParameters.source([.labels]),
            ParameterSpec("classes", .array(of: .integer(0...2_147_483_647), count: 1...1000), doc: "label of each channel, in order (e.g. [0, 1, 2])"),
        ],
        produces: .kind(.image),
        make: { c in
            let t = try OneHot(classes: try c.ints("classes"))
            return OneHotStage(source: try c.string("source"), transform: t)
        })
}

struct OneHotStage: Stage {
    let source: String
    let transform: OneHot

    func run(_ context: inout CaseContext) throws -> StageValue? {
        .image(try transform.apply(try context.labels(source)))
    }
}

struct ThresholdStage: Stage {
    let source: String
    let lower: Double
    let upper: Double
    let label: UInt8

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let image = try context.image(source)
        let n = image.geometry.voxelCount
        let mask = (0..<n).map { i -> UInt8 in
            let v = image.physicalValue(at: i)
            return v >= lower && v <= upper ? label : 0
        }
        var metadata = image.metadata
        metadata.intensityUnit = nil
        return .labels(try LabelMap(Volume(geometry: image.geometry, voxels: .uint8(mask), metadata: metadata)))
    }
}
