/// Why a run could not start or continue as asked. Each case names the folder or stage concerned and says
/// what to do; `isOutputProblem` tells the output folder's problems from the inputs'.
public enum RunError: Error, CustomStringConvertible, Sendable {
    /// The archive is not a usable folder.
    case archive(path: String, reason: String)
    /// No case was found (a pattern or rule that matches nothing); the reason says what was seen.
    case noCases(reason: String)
    /// A stage cannot be built from its parameters (a model that does not load, a missing program).
    case stageSetup(stage: String, type: String, reason: String)
    /// The output folder holds files but no VoxelFlow run: nothing is written into it.
    case outputNotARun(path: String, entries: [String])
    /// The output folder already holds this run (or shard); `--resume` or `--force` is needed.
    case outputHoldsRun(path: String, provenance: String)
    /// `--resume` (or another shard) with a different archive than the run in the folder.
    case archiveMismatch(output: String, recorded: String, given: String)
    /// `--resume` (or another shard) with a different pipeline file than the run in the folder.
    case pipelineChanged(output: String, recorded: String, now: String)
    /// The folder holds runs split differently (unsharded vs sharded, or another shard count).
    case shardLayoutConflict(output: String, existing: [String], requested: String)
    /// The same run or shard is running now (its lock is held), here or on another machine.
    case alreadyRunning(output: String, run: String, host: String?)
    /// The output folder cannot be created or prepared.
    case cannotPrepareOutput(path: String, reason: String)
    /// The manifest or provenance file cannot be written.
    case cannotRecord(path: String, reason: String)

    /// True when the output folder is the problem (exit code 3), false for inputs and pipeline (exit code 2).
    public var isOutputProblem: Bool {
        switch self {
        case .archive, .noCases, .stageSetup, .archiveMismatch, .pipelineChanged: return false
        case .outputNotARun, .outputHoldsRun, .shardLayoutConflict, .alreadyRunning, .cannotPrepareOutput, .cannotRecord: return true
        }
    }

    public var description: String {
        switch self {
        case .archive(let path, let reason):
            return "\(path): \(reason)"
        case .noCases(let reason):
            return reason
        case .stageSetup(let stage, let type, let reason):
            return "stage \(stage) (\(type)): cannot be set up: \(reason)"
        case .outputNotARun(let path, let entries):
            let shown = entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", …" : "")
            return "\(path): the folder is not empty (\(shown)) and holds no VoxelFlow run; choose a new or empty output folder (nothing was written or removed)"
        case .outputHoldsRun(let path, let provenance):
            return "\(path) already holds this run (\(provenance)); use --resume to continue it or --force to start it over"
        case .archiveMismatch(let output, let recorded, let given):
            return "\(output): the run there reads the archive \(recorded), not \(given); use the same --input, or another output folder (--force starts over)"
        case .pipelineChanged(let output, let recorded, let now):
            return "\(output): the pipeline file changed since the run there started (sha256 \(recorded.prefix(12))…, now \(now.prefix(12))…); use --force to start over"
        case .shardLayoutConflict(let output, let existing, let requested):
            return "\(output) holds \(existing.joined(separator: ", ")), which cover the cases differently from \(requested); use another output folder, or --force to remove those runs' results and start over"
        case .alreadyRunning(let output, let run, let host):
            return "\(output): \(run) is running now\(host.map { " (started on \($0))" } ?? ""); wait for it to end (voxelflow status \(output)) or stop it first"
        case .cannotPrepareOutput(let path, let reason):
            return "\(path): cannot prepare the output folder: \(reason)"
        case .cannotRecord(let path, let reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}
