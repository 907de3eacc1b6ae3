import VoxelCore
import VoxelTransforms

/// Built-in spatial stages. Images and label maps are both accepted; labels always move nearest-neighbour.
/// Every result keeps exact world coordinates, so `write-nifti` with `grid` puts results back on the scan.
enum SpatialStages {
    static let all = [reorient, resample, resampleTo, cropForeground, cropOrPad]

    static let reorient = StageDefinition(
        type: "reorient", category: .spatial,
        summary: "Permute and flip axes to an orientation code (no interpolation; voxels and world positions unchanged).",
        parameters: [
            CommonParameters.source(),
            ParameterSpec("orientation", .string, default: .string("RAS"),
                          doc: "target code, three letters from R/L, A/P, S/I naming where each axis points (e.g. RAS, LPS)"),
        ],
        produces: .sameAs(parameter: "source"),
        make: { c in
            let r = try Reorient(target: try c.string("orientation"))
            return MapStage(source: try c.string("source"),
                            image: { try r.apply($0).volume },
                            labels: { try LabelMap(r.apply($0.volume).volume) })
        })

    static let resample = StageDefinition(
        type: "resample", category: .spatial,
        summary: "Resample to a voxel spacing in mm, keeping origin and direction (labels nearest-neighbour).",
        parameters: [
            CommonParameters.source(),
            ParameterSpec("spacing", .array(of: .number(0.01...100), count: 3...3), doc: "target spacing along i, j, k in mm"),
            ParameterSpec("interpolation", .choice(Interpolation.allCases.map(\.rawValue)), default: .string("linear"),
                          doc: "for images: nearest, linear or bspline (cubic B-spline; both give float32); labels always use nearest"),
            ParameterSpec("antialias", .boolean, default: .bool(false),
                          doc: "images: Gaussian smoothing before downsampling, σ = (spacing ratio − 1)/2 voxels per axis"),
            ParameterSpec("size", .choice(Resample.SizeRule.allCases.map(\.rawValue)), default: .string("extent"),
                          doc: "voxels per axis: extent = round(n × old / new spacing), the physical extent kept (SimpleITK, TorchIO); centres = round((n − 1) × old / new + 1) with halves rounded to even, the span of the voxel centres kept (MONAI's Spacingd)"),
        ],
        produces: .sameAs(parameter: "source"),
        make: { c in
            let spacing = try c.doubles("spacing")
            let interpolation = try c.choice("interpolation", as: Interpolation.self)
            let rule = try c.choice("size", as: Resample.SizeRule.self)
            let image = try Resample(spacing: spacing, interpolation: interpolation, antialias: try c.bool("antialias"), sizeRule: rule)
            let labels = try Resample(spacing: spacing, interpolation: .nearest, sizeRule: rule)
            return MapStage(source: try c.string("source"),
                            image: { try image.apply($0).volume },
                            labels: { try LabelMap(labels.apply($0.volume).volume) })
        })

    static let resampleTo = StageDefinition(
        type: "resample-to", category: .spatial,
        summary: "Resample onto the grid of another value (for example back onto the original scan); labels nearest-neighbour.",
        parameters: [
            CommonParameters.source(),
            ParameterSpec("reference", .reference([.image, .labels]), doc: "the value whose grid (size, spacing, origin, direction) is used"),
            ParameterSpec("interpolation", .choice(Interpolation.allCases.map(\.rawValue)), default: .string("linear"),
                          doc: "for images: nearest, linear or bspline; labels always use nearest"),
            ParameterSpec("fill", .number(-1e9...1e9), default: .int(0), doc: "value outside the source (physical units; labels use 0)"),
        ],
        produces: .sameAs(parameter: "source"),
        make: { c in
            ResampleToStage(source: try c.string("source"), reference: try c.string("reference"),
                            interpolation: try c.choice("interpolation", as: Interpolation.self),
                            fill: try c.double("fill"))
        })

    static let cropForeground = StageDefinition(
        type: "crop-foreground", category: .spatial,
        summary: "Crop to the bounding box of the foreground (voxels above a threshold, or a mask's non-zero voxels), plus a margin.",
        parameters: [
            CommonParameters.source(),
            ParameterSpec("threshold", .number(-1e9...1e9), default: .int(0), doc: "without mask: voxels of the image above this physical value (HU for CT) are foreground"),
            ParameterSpec("mask", .reference([.labels]), optional: true, doc: "use this label map's non-zero voxels as the foreground (same grid size)"),
            ParameterSpec("margin", .integer(0...10_000), default: .int(0), doc: "voxels kept on every side of the box"),
        ],
        produces: .sameAs(parameter: "source"),
        make: { c in
            let crop = try CropForeground(threshold: try c.double("threshold"), margin: try c.int("margin"))
            return CropForegroundStage(source: try c.string("source"), mask: c.parameters.string("mask"), crop: crop)
        })

    static let cropOrPad = StageDefinition(
        type: "crop-or-pad", category: .spatial,
        summary: "Crop or pad symmetrically about the centre to a size in voxels (padding with 0; world positions kept).",
        parameters: [
            CommonParameters.source(),
            ParameterSpec("size", .array(of: .integer(1...100_000), count: 3...3), doc: "output size along i, j, k in voxels"),
        ],
        produces: .sameAs(parameter: "source"),
        make: { c in
            let crop = try CropOrPad(size: try c.ints("size"))
            return MapStage(source: try c.string("source"),
                            image: { v in try crop.plan(for: v.geometry).apply(v) },
                            labels: { l in try LabelMap(crop.plan(for: l.geometry).apply(l.volume)) })
        })
}

struct CropForegroundStage: Stage {
    let source: String
    let mask: String?
    let crop: CropForeground

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let window: GridWindow
        if let mask {
            window = try crop.plan(forMask: context.labels(mask))
        } else if case .image(let v) = try context.value(source) {
            window = try crop.plan(for: v)
        } else {
            throw CaseError.invalidParameters(stage: nil, reason: "cropping a label map needs \"mask\" (a threshold applies to images)")
        }
        switch try context.value(source) {
        case .image(let v): return .image(try window.apply(v))
        case .labels(let l): return .labels(try LabelMap(window.apply(l.volume)))
        case .report: throw CaseError.wrongKind(id: source, found: "a report", needed: "an image or label map")
        }
    }
}

struct ResampleToStage: Stage {
    let source: String
    let reference: String
    let interpolation: Interpolation
    let fill: Double

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let target = try context.geometry(reference)
        switch try context.value(source) {
        case .image(let v):
            return .image(try ResampleToGrid(target: target, interpolation: interpolation, fill: fill).apply(v))
        case .labels(let l):
            return .labels(try LabelMap(ResampleToGrid(target: target, interpolation: .nearest).apply(l.volume)))
        case .report:
            throw CaseError.wrongKind(id: source, found: "a report", needed: "an image or label map")
        }
    }
}
