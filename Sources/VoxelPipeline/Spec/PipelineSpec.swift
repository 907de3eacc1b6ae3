import VoxelCore
import VoxelIO
import VoxelSupport

/// A checked pipeline: what a case is, and the stages to run on each case.
///
/// Pipelines are pure data: nothing in a pipeline file is ever evaluated as code. Build one with
/// `PipelineValidator`, which reports every problem with its JSON path and line.
public struct PipelineSpec: Sendable {
    /// The pipeline format version this build reads (the `"voxelflow"` key).
    public static let formatVersion = 1

    public var name: String
    public var description: String?
    /// Seed of every random choice; each case derives its own seed from it and its case id.
    public var seed: UInt64
    /// The inputs that make up a case, in file order. The first one defines the cases.
    public var inputs: [InputSpec]
    public var stages: [StageSpec]
    /// Folder of the pipeline file (relative resource paths are resolved against it).
    public var directory: String
    /// SHA-256 of the pipeline file's bytes, recorded in `run.json`.
    public var sha256: String
    /// The `training` section of a training pipeline (`voxelflow train`); nil for a pipeline that `run` runs.
    public var training: TrainingSpec? = nil
    /// The stages as `PipelineValidator` built them (one per entry of `stages`), so that a run does not
    /// build them (load models) a second time; nil when not built yet.
    public var builtStages: [any Stage]? = nil
}

/// One named input of a case.
public struct InputSpec: Sendable {
    /// The id later stages use to refer to it.
    public var name: String
    /// `.image` or `.labels`.
    public var kind: ValueKind
    public var source: InputSource
}

/// Where an input comes from in the archive.
public enum InputSource: Sendable, Equatable {
    /// NIfTI files matching a pattern relative to the archive root, with exactly one `*` in the file
    /// name; the text matched by `*` is the case key shared by all inputs of a case.
    case nifti(pattern: String)
    /// Every DICOM series (stack) in the archive of the given modalities is one case.
    case dicomSeries(DICOMInputOptions)
    /// One NIfTI file shared by every case (an atlas, a template, a mask): a path relative to the pipeline
    /// file's folder, or absolute. It does not define cases.
    case reference(path: String)
    /// The DICOM SEG or RTSTRUCT in the archive that refers to the series of the `dicom-series` input `of`,
    /// read onto that series' grid as a label map. It does not define cases.
    case dicomLabels(of: String)

    /// True for inputs that define the cases (not `reference` or `dicom-labels`).
    public var definesCases: Bool {
        switch self {
        case .reference, .dicomLabels: return false
        default: return true
        }
    }
}

/// Options of a `dicom-series` input.
public struct DICOMInputOptions: Sendable, Equatable {
    /// Modalities to take (`CT`, `MR`, `PT`, …); empty takes every series.
    public var modalities: [String]
    /// PET: convert to body-weight SUV.
    public var suv: Bool
    /// Resample stacks with missing slices or uneven spacing to uniform slices.
    public var resampleSlices: Bool
    /// Refuse gantry-tilted stacks instead of reslicing them onto an orthogonal grid.
    public var refuseTilt = false
    /// Template of the case id: `{patient}`, `{study}`, `{series}` (SeriesNumber), `{modality}`, `{uid}`
    /// (the first 12 hex digits of a hash of the SeriesInstanceUID). Sanitised into one path component.
    public var caseName: String
    /// Which stacks become cases (no rules: all of the given modalities).
    public var selection = DICOMSeriesSelection()

    public static let defaultCaseName = "{patient}_{modality}{series}"
}

/// One stage of a pipeline, with checked parameters.
public struct StageSpec: Sendable {
    public var id: String
    public var type: String
    public var parameters: ParameterValues
    /// Position of the stage's object in the pipeline file.
    public var line: Int
    public var column: Int
    /// The stage's `when`: it runs only when this holds (nil: always).
    public var condition: StageCondition? = nil
    /// The ids of the inputs and stages whose values the stage takes (its reference parameters).
    public var references: [String] = []
}

/// One problem found in a pipeline file: where (JSON path, line, column) and what.
public struct PipelineIssue: Sendable, Equatable, CustomStringConvertible {
    /// A JSON path such as `stages[2].lower` or `inputs.ct.pattern` (`$` for the document itself).
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(line):\(column): \(path): \(message)" }
}

/// The problems that make a pipeline file unusable, all of them, in file order.
public struct PipelineValidationError: Error, CustomStringConvertible {
    /// The pipeline file.
    public var file: String
    public var issues: [PipelineIssue]

    public var description: String {
        let plural = issues.count == 1 ? "problem" : "problems"
        return (["\(file): \(issues.count) \(plural):"] + issues.map { "  \(file):\($0)" }).joined(separator: "\n")
    }
}
