import VoxelCore
import VoxelSupport

/// A value that flows between stages within one case.
public enum StageValue: Sendable {
    case image(Volume)
    case labels(LabelMap)
    case report(JSON)

    /// Which kind of value this is.
    public var kind: ValueKind {
        switch self {
        case .image: return .image
        case .labels: return .labels
        case .report: return .report
        }
    }

    /// "an image", "a label map" or "a report", for messages.
    public var kindName: String {
        switch self {
        case .image: return "an image"
        case .labels: return "a label map"
        case .report: return "a report"
        }
    }
}

/// One configured step of a pipeline.
///
/// An instance is built once per run (so heavy resources such as model weights are loaded once) and then
/// called for every case, possibly from several threads at once: it must be `Sendable` and keep no
/// per-case state. Per-case inputs, results and outputs live in the `CaseContext`.
public protocol Stage: Sendable {
    /// Processes one case. Returns the stage's result (stored under the stage's `id` for later stages),
    /// or nil for stages that only write files.
    /// - Throws: any error; the runner records it as this case's failure at this stage and goes on with
    ///   the other cases.
    func run(_ context: inout CaseContext) throws -> StageValue?
}

/// What a stage type's result is.
public enum StageProduct: Sendable, Equatable {
    /// No result (writers).
    case nothing
    /// Always this kind.
    case kind(ValueKind)
    /// The same kind as the value referenced by this parameter (e.g. resampling keeps images images and
    /// labels labels).
    case sameAs(parameter: String)
}

/// Where a stage type belongs, for listings and docs.
public enum StageCategory: String, Sendable, CaseIterable {
    case spatial, intensity, labels, analysis, model, writer, augmentation
}

/// Everything a stage type receives when it is built for a run.
public struct StageConfiguration: Sendable {
    /// The stage's `id` in the pipeline.
    public var id: String
    /// Checked parameter values with defaults filled in.
    public var parameters: ParameterValues
    /// Folder of the pipeline file, for resolving relative resource paths.
    public var pipelineDirectory: String
}

/// A stage type: its name, documentation, parameter schema, result kind and how to build it.
/// Built-in stages and plugins register `StageDefinition`s in a `StageRegistry` the same way.
public struct StageDefinition: Sendable {
    /// The `type` string used in pipeline files (kebab-case).
    public var type: String
    public var category: StageCategory
    /// One line of documentation.
    public var summary: String
    public var parameters: [ParameterSpec]
    public var produces: StageProduct
    /// Builds the stage for a run; may load resources and throw when they are unusable.
    public var make: @Sendable (StageConfiguration) throws -> any Stage

    public init(type: String, category: StageCategory, summary: String, parameters: [ParameterSpec],
                produces: StageProduct, make: @escaping @Sendable (StageConfiguration) throws -> any Stage) {
        self.type = type
        self.category = category
        self.summary = summary
        self.parameters = parameters
        self.produces = produces
        self.make = make
    }
}

/// The set of stage types a pipeline may use, by `type` name.
public struct StageRegistry: Sendable {
    public private(set) var definitions: [String: StageDefinition] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a stage type.
    /// - Precondition: no stage type of the same name is registered (a programming error in a plugin).
    public mutating func register(_ definition: StageDefinition) {
        precondition(definitions[definition.type] == nil, "stage type \(definition.type) registered twice")
        definitions[definition.type] = definition
    }

    /// The definition of `type`, if registered.
    public subscript(type: String) -> StageDefinition? { definitions[type] }

    /// All definitions sorted by category then name.
    public var sorted: [StageDefinition] {
        let order = Dictionary(uniqueKeysWithValues: StageCategory.allCases.enumerated().map { ($1, $0) })
        return definitions.values.sorted { (order[$0.category] ?? 0, $0.type) < (order[$1.category] ?? 0, $1.type) }
    }
}
