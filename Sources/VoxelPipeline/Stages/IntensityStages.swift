import VoxelCore
import VoxelTransforms

/// Built-in intensity stages: images only (label maps are refused by the validator). Outputs are float32.
enum IntensityStages {
    static let all = [ctWindow, scaleRange, normalize, percentileNormalize, gaussianSmooth]

    static let ctWindow = StageDefinition(
        type: "ct-window", category: .intensity,
        summary: "Map a CT window (level/width in HU) linearly onto [outputMin, outputMax], clipping outside it.",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("level", .number(-100_000...100_000), doc: "window centre in HU (e.g. 40 for soft tissue)"),
            ParameterSpec("width", .number(1e-6...200_000), doc: "window width in HU (e.g. 400)"),
            ParameterSpec("outputMin", .number(-1e9...1e9), default: .int(0), doc: "value given to level − width/2 and below"),
            ParameterSpec("outputMax", .number(-1e9...1e9), default: .int(1), doc: "value given to level + width/2 and above"),
        ],
        produces: .kind(.image),
        make: { c in
            let level = try c.double("level"), width = try c.double("width")
            let t = ScaleIntensityRange(aMin: level - width / 2, aMax: level + width / 2,
                                        bMin: try c.double("outputMin"), bMax: try c.double("outputMax"), clip: true)
            return ImageStage(source: try c.string("source"), transform: t.apply)
        })

    static let scaleRange = StageDefinition(
        type: "scale-intensity-range", category: .intensity,
        summary: "Map [aMin, aMax] linearly onto [bMin, bMax] (MONAI ScaleIntensityRange), optionally clipping.",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("aMin", .number(-1e12...1e12), doc: "input value mapped to bMin (physical units)"),
            ParameterSpec("aMax", .number(-1e12...1e12), doc: "input value mapped to bMax"),
            ParameterSpec("bMin", .number(-1e12...1e12), default: .int(0), doc: "output for aMin"),
            ParameterSpec("bMax", .number(-1e12...1e12), default: .int(1), doc: "output for aMax"),
            ParameterSpec("clip", .boolean, default: .bool(true), doc: "clip the output to [bMin, bMax]"),
        ],
        produces: .kind(.image),
        make: { c in
            let p = c.parameters
            let t = ScaleIntensityRange(aMin: p.double("aMin") ?? 0, aMax: p.double("aMax") ?? 1, bMin: p.double("bMin") ?? 0,
                                        bMax: p.double("bMax") ?? 1, clip: p.bool("clip") ?? true)
            return ImageStage(source: p.string("source") ?? "", transform: t.apply)
        })

    static let normalize = StageDefinition(
        type: "normalize", category: .intensity,
        summary: "Z-score: subtract the mean and divide by the standard deviation (MONAI NormalizeIntensity).",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("nonzero", .boolean, default: .bool(false), doc: "use and change only non-zero voxels"),
            ParameterSpec("mask", .reference([.labels]), optional: true, doc: "take mean and std inside this label map's non-zero voxels (all voxels are normalised)"),
        ],
        produces: .kind(.image),
        make: { c in
            let t = NormalizeIntensity(nonzero: try c.bool("nonzero"))
            return NormalizeStage(source: try c.string("source"), mask: c.parameters.string("mask"), transform: t)
        })

    static let percentileNormalize = StageDefinition(
        type: "percentile-normalize", category: .intensity,
        summary: "Clip to the lower/upper percentiles, then z-score with the clipped values' statistics (nnU-Net's CT scheme), optionally inside a mask.",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("lower", .number(0...100), default: .number(0.5), doc: "lower percentile"),
            ParameterSpec("upper", .number(0...100), default: .number(99.5), doc: "upper percentile"),
            ParameterSpec("mask", .reference([.labels]), optional: true, doc: "compute percentiles and statistics inside this label map's non-zero voxels"),
        ],
        produces: .kind(.image),
        make: { c in
            let t = try PercentileNormalize(lower: try c.double("lower"), upper: try c.double("upper"))
            return PercentileStage(source: try c.string("source"), mask: c.parameters.string("mask"), transform: t)
        })

    static let gaussianSmooth = StageDefinition(
        type: "gaussian-smooth", category: .intensity,
        summary: "Separable Gaussian smoothing with σ in voxels per axis (scipy gaussian_filter, reflect borders).",
        parameters: [
            CommonParameters.source([.image]),
            ParameterSpec("sigma", .array(of: .number(0...100), count: 3...3), doc: "σ along i, j, k in voxels"),
        ],
        produces: .kind(.image),
        make: { c in
            let t = try GaussianSmooth(sigma: try c.doubles("sigma"))
            return ImageStage(source: try c.string("source"), transform: t.apply)
        })
}

struct NormalizeStage: Stage {
    let source: String
    let mask: String?
    let transform: NormalizeIntensity

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let image = try context.image(source)
        return .image(try transform.apply(image, mask: mask.map { try context.labels($0) }))
    }
}

struct PercentileStage: Stage {
    let source: String
    let mask: String?
    let transform: PercentileNormalize

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let image = try context.image(source)
        let m = try mask.map { try context.labels($0) }
        return .image(try transform.apply(image, mask: m))
    }
}
