import Foundation

/// The shard a process runs when it is one task of a job array (`voxelflow run --shard auto`).
///
/// - Slurm job arrays: `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_COUNT`; task
///   `id` is shard `id - min + 1` of `count`. The array must be contiguous (`--array=0-3` or `1-8`, any
///   `%` limit); a stepped or listed array (`1-9:2`, `1,4,7`) is refused, because its task ids do not
///   number the shards.
/// - Kubernetes indexed jobs: `JOB_COMPLETION_INDEX` (0-based) is shard `index + 1`, of the count given in
///   `VOXELFLOW_SHARD_COUNT` (set it to the job's `completions`; Kubernetes does not export it).
public enum ShardEnvironment {
    /// The names read, for messages and documentation.
    public static let variables = ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
                                   "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX", "VOXELFLOW_SHARD_COUNT"]

    /// The shard (1-based index, count) that `environment` describes.
    /// - Throws: `ShardEnvironmentError` when neither a Slurm array task nor an indexed job is described, or
    ///   the values are inconsistent.
    public static func shard(from environment: [String: String]) throws -> (index: Int, count: Int) {
        func int(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ShardEnvironmentError(message: "\(name)=\(text) is not a whole number")
            }
            return value
        }
        if let id = try int("SLURM_ARRAY_TASK_ID") {
            guard let count = try int("SLURM_ARRAY_TASK_COUNT"), let min = try int("SLURM_ARRAY_TASK_MIN") else {
                throw ShardEnvironmentError(message: "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN is not (Slurm before 17.11?); give --shard i/n")
            }
            let step = try int("SLURM_ARRAY_TASK_STEP") ?? 1
            let max = try int("SLURM_ARRAY_TASK_MAX") ?? (min + count - 1)
            guard step == 1, max - min + 1 == count, count >= 1, (min...max).contains(id) else {
                throw ShardEnvironmentError(message: "the Slurm array (tasks \(min)–\(max), step \(step), \(count) tasks) is not contiguous, so its task ids do not number shards; submit --array=1-N (or use voxelflow submit), or give --shard i/n")
            }
            return (id - min + 1, count)
        }
        if let index = try int("JOB_COMPLETION_INDEX") {
            guard let count = try int("VOXELFLOW_SHARD_COUNT") else {
                throw ShardEnvironmentError(message: "JOB_COMPLETION_INDEX is set (a Kubernetes indexed job) but VOXELFLOW_SHARD_COUNT is not; set it to the job's completions")
            }
            guard count >= 1, (0..<count).contains(index) else {
                throw ShardEnvironmentError(message: "JOB_COMPLETION_INDEX=\(index) is outside 0..<VOXELFLOW_SHARD_COUNT=\(count)")
            }
            return (index + 1, count)
        }
        throw ShardEnvironmentError(message: "--shard auto needs a Slurm array task (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT) or a Kubernetes indexed job (JOB_COMPLETION_INDEX with VOXELFLOW_SHARD_COUNT); none is set")
    }
}

/// Why `--shard auto` cannot tell the shard.
public struct ShardEnvironmentError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
