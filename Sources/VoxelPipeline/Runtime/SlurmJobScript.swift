import Foundation
import VoxelIO
import VoxelSupport

/// The batch script of a Slurm job array that runs a pipeline as shards (`voxelflow submit --slurm`):
/// array task i runs `voxelflow run … --shard i/N --resume`, so a task that was cancelled or lost with its
/// node is re-submitted as it was and skips the cases it had finished.
public struct SlurmJobScript: Sendable, Equatable {
    /// The voxelflow executable, pipeline, archive and output folder (absolute: the tasks run elsewhere).
    public var executable: String
    public var pipeline: String
    public var archive: String
    public var output: String
    /// Number of shards.
    public var shardCount: Int
    /// The shards (array task ids) to run.
    public var shards: [Int]
    /// At most this many tasks at once (`%K` of `--array`).
    public var maxRunning: Int?
    /// `--jobs` of each task and the CPUs it asks for.
    public var cpusPerTask: Int = 1
    public var jobs: Int?
    public var jobName: String = "voxelflow"
    public var memory: String?
    public var time: String?
    public var partition: String?
    /// More `#SBATCH` lines, as given (e.g. `--account=lab`).
    public var extraOptions: [String] = []

    public init(executable: String, pipeline: String, archive: String, output: String, shardCount: Int, shards: [Int]) {
        self.executable = executable
        self.pipeline = pipeline
        self.archive = archive
        self.output = output
        self.shardCount = shardCount
        self.shards = shards
    }

    /// The `--array` value: `1-N` for every shard, else the list with runs compressed (`2,5-7`), and `%K`.
    public var arraySpec: String {
        var parts: [String] = []
        var n = 0
        let sorted = Array(Set(shards)).sorted()
        while n < sorted.count {
            var m = n
            while m + 1 < sorted.count && sorted[m + 1] == sorted[m] + 1 { m += 1 }
            parts.append(m == n ? "\(sorted[n])" : "\(sorted[n])-\(sorted[m])")
            n = m + 1
        }
        return parts.joined(separator: ",") + (maxRunning.map { "%\($0)" } ?? "")
    }

    /// The folder of the task logs (`%A_%a.out`: job id and task id).
    public var logFolder: String { "\(output)/slurm/logs" }

    /// The script text.
    public var text: String {
        var lines = [
            "#!/bin/bash",
            "#SBATCH --job-name=\(jobName)",
            "#SBATCH --array=\(arraySpec)",
            "#SBATCH --cpus-per-task=\(cpusPerTask)",
            "#SBATCH --output=\(logFolder)/%A_%a.out",
        ]
        if let memory { lines.append("#SBATCH --mem=\(memory)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        lines += extraOptions.map { "#SBATCH \($0)" }
        lines += [
            "# voxelflow submit: array task i runs shard i of \(shardCount); --resume skips the cases already done,",
            "# so a cancelled or failed task can be submitted again as it was (voxelflow status \(shellQuoted(output))).",
            "set -eu",
            "exec " + [executable, "run", pipeline, "--input", archive, "--output", output].map(shellQuoted).joined(separator: " ")
                + " --shard \"${SLURM_ARRAY_TASK_ID}/\(shardCount)\" --resume --jobs \(jobs ?? cpusPerTask)",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// A job name Slurm accepts: the pipeline name's letters, digits, '-', '_' and '.'.
    public static func jobName(forPipeline name: String) -> String {
        let cleaned = String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) ? Character($0) : "-" })
        return "voxelflow-" + (cleaned.isEmpty ? "run" : String(cleaned.prefix(40)))
    }
}

/// One `voxelflow submit`, a line of `OUT/slurm/submissions.jsonl`.
public struct SlurmSubmission: Sendable {
    public var job: String
    public var array: String
    public var shards: [Int]
    public var shardCount: Int
    public var script: String
    public var submitted: String

    public init(job: String, array: String, shards: [Int], shardCount: Int, script: String, submitted: String) {
        self.job = job
        self.array = array
        self.shards = shards
        self.shardCount = shardCount
        self.script = script
        self.submitted = submitted
    }

    public var json: JSON {
        .object([("job", .string(job)), ("array", .string(array)), ("shards", .array(shards.map { .int($0) })),
                 ("shardCount", .int(shardCount)), ("script", .string(script)), ("submitted", .string(submitted))])
    }

    /// The file in the output folder.
    public static func file(output: String) -> String { "\(output)/slurm/submissions.jsonl" }

    /// The submissions recorded in `output`, oldest first.
    public static func read(output: String) -> [SlurmSubmission] {
        guard let data = FileManager.default.contents(atPath: file(output: output)) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let node = try? JSONParser.parse(String(line)), let job = node.member("job")?.value.string,
                  let array = node.member("array")?.value.string, let script = node.member("script")?.value.string,
                  case .array(let items)? = node.member("shards")?.value.value,
                  case .number(let count)? = node.member("shardCount")?.value.value else { return nil }
            let shards = items.compactMap { item -> Int? in if case .number(let d) = item.value { return Int(d) } else { return nil } }
            return SlurmSubmission(job: job, array: array, shards: shards, shardCount: Int(count), script: script,
                                   submitted: node.member("submitted")?.value.string ?? "")
        }
    }

    /// Appends this submission to the file (one write of one line).
    public func append(output: String) throws {
        try LineAppender(path: SlurmSubmission.file(output: output)).append(json.serialized(pretty: false))
    }
}

/// `s` quoted for a POSIX shell when it needs quoting (commands printed to users and job scripts).
public func shellQuoted(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
