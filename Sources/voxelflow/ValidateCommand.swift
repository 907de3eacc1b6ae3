import VoxelCore
import ArgumentParser
import VoxelCatalog
import VoxelPipeline
import VoxelSupport

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a pipeline file completely without reading any scan.",
        discussion: """
        Reports every problem with its line, column and JSON path: JSON syntax, unknown keys (with a \
        suggestion), unknown stage types, wrong parameter types or ranges, duplicate ids, references to \
        missing or later stages or to the wrong kind of value, clashing output paths and missing files. \
        Prints a summary of the pipeline when it is valid.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The pipeline file (JSON).")
    var pipeline: String

    @Flag(name: .shortAndLong, help: "Print nothing when the pipeline is valid.")
    var quiet = false

    func run() throws {
        do {
            let spec = try PipelineValidator(registry: StageCatalog.registry).load(pipeline)
            if !quiet {
                print("\(pipeline): valid (format \(PipelineSpec.formatVersion), \"\(spec.name)\")")
                for input in spec.inputs {
                    switch input.source {
                    case .nifti(let pattern): print("  input \(input.name): \(input.kind.rawValue), NIfTI files \(pattern)")
                    case .dicomSeries(let o):
                        let modalities = o.modalities.isEmpty ? "any modality" : o.modalities.joined(separator: ", ")
                        print("  input \(input.name): image, each DICOM series (\(modalities)), case id \(o.caseName)"
                              + (o.selection.isEmpty ? "" : ", with selection rules"))
                    case .reference(let path): print("  input \(input.name): \(input.kind.rawValue), one file for every case: \(path)")
                    case .dicomLabels(let of): print("  input \(input.name): labels, the DICOM SEG or RTSTRUCT of input \(of)'s series")
                    }
                }
                for s in spec.stages { print("  stage \(s.id): \(s.type)") }
            }
        } catch let e as PipelineValidationError {
            printError("voxelflow: error: \(e)")
            throw ExitCode(ExitCodes.badInput)
        }
    }
}
