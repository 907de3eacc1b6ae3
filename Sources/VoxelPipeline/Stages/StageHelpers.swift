import VoxelTransforms
import VoxelCore

/// Parameter declarations shared by many built-in stages.
enum CommonParameters {
    static func source(_ kinds: [ValueKind] = [.image, .labels], doc: String = "the value to process (an input name or an earlier stage id)") -> ParameterSpec {
        ParameterSpec("source", .reference(kinds), doc: doc)
    }

    static let connectivity = ParameterSpec("connectivity", .choice(["6", "18", "26"]), default: .string("26"),
                                            doc: "neighbours that touch: 6 (faces), 18 (+ edges) or 26 (+ corners)")

    /// The `connectivity` parameter (its default is the one declared by the stage).
    static func connectivityValue(_ c: StageConfiguration) throws -> Connectivity {
        let text = try c.string("connectivity")
        guard let n = Int(text), let value = Connectivity(rawValue: n) else {
            throw CaseError.invalidParameters(stage: c.id, reason: "connectivity \(text) is not 6, 18 or 26")
        }
        return value
    }
}

/// A stage that applies a function to the image or label map named by its `source` parameter and keeps
/// the kind: images stay images, labels stay labels.
struct MapStage: Stage {
    let source: String
    let image: @Sendable (Volume) throws -> Volume
    /// Nil: labels are refused (the validator already prevents that for image-only stages).
    let labels: (@Sendable (LabelMap) throws -> LabelMap)?

    func run(_ context: inout CaseContext) throws -> StageValue? {
        switch try context.value(source) {
        case .image(let v): return .image(try image(v))
        case .labels(let l):
            guard let labels else { throw CaseError.wrongKind(id: source, found: "a label map", needed: "an image") }
            return .labels(try labels(l))
        case .report: throw CaseError.wrongKind(id: source, found: "a report", needed: "an image or label map")
        }
    }
}

/// A stage that turns the label map named by `source` into another label map.
struct LabelStage: Stage {
    let source: String
    let transform: @Sendable (LabelMap) throws -> LabelMap

    func run(_ context: inout CaseContext) throws -> StageValue? {
        .labels(try transform(try context.labels(source)))
    }
}

/// A stage that turns the image named by `source` into another image.
struct ImageStage: Stage {
    let source: String
    let transform: @Sendable (Volume) throws -> Volume

    func run(_ context: inout CaseContext) throws -> StageValue? {
        .image(try transform(try context.image(source)))
    }
}

extension Volume {
    /// Physical value of every voxel of the first time point, as Double.
    func physicalValue(at index: Int) -> Double { scaling.apply(voxels.value(at: index)) }
}
