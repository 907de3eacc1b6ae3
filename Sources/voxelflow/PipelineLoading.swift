import ArgumentParser
import VoxelCatalog
import VoxelPipeline

/// Loading a pipeline file the way every command that runs one does: checked against the stage catalogue,
/// its problems printed with line and column, exit code 2.
enum PipelineLoading {
    /// The checked pipeline at `path`.
    static func load(_ path: String) throws -> PipelineSpec {
        do {
            return try PipelineValidator(registry: StageCatalog.registry).load(path)
        } catch let e as PipelineValidationError {
            printError("voxelflow: error: \(e)")
            throw ExitCode(ExitCodes.badInput)
        }
    }

    /// The checked pipeline at `path`, refusing a training pipeline with `whatInstead` as the advice.
    static func loadInference(_ path: String, whatInstead: String) throws -> PipelineSpec {
        let spec = try load(path)
        if spec.training != nil {
            printError("voxelflow: error: \(path) is a training pipeline (it has a \"training\" section); \(whatInstead)")
            throw ExitCode(ExitCodes.badInput)
        }
        return spec
    }
}
