import ArgumentParser
import Foundation
import VoxelPipeline
import VoxelSupport

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the state of a run's cases and shards, merged over every shard's records.",
        discussion: """
        Reads OUT's plan.json, run*.json and manifest*.jsonl (written by `voxelflow run` and `voxelflow \
        submit`); it never writes. Case states: done, failed, running (being built now), pending (its shard \
        is running, or queued in Slurm, and has not reached it), missing (no outcome, and its shard is not running: not started, \
        killed or interrupted). Shard states: not started, queued (a task of a job recorded by `voxelflow \
        submit` that squeue lists), running, stopped (its process is gone without \
        recording an end: killed, cancelled, or its node failed), interrupted, succeeded, finished with \
        failures. A shard counts as running while its process holds the lock .partial/<shard>.lock, so \
        the answer holds on a shared file system too.

        Exit code 0 when the folder could be read; `--json` has "finished": true once every case has an \
        outcome and no shard runs.
        """
    )

    @Argument(help: "The output folder of `voxelflow run` or `voxelflow submit`.")
    var output: String

    @Flag(name: .long, help: "Print the status as JSON (counts, every shard, every case).")
    var json = false

    @Option(name: .long, help: "Case ids listed per state in the text output (default 10; 0 lists none).")
    var show = 10

    @Option(name: .long, help: "The squeue program that tells which shards submitted with `voxelflow submit` are still queued (default: squeue on PATH; without it they show as not started).")
    var squeue = "squeue"

    func run() throws {
        var status: BatchStatus
        do {
            status = try BatchStatus.read(output: output)
            if let queued = SlurmQueue.queuedShards(output: output, squeue: squeue) { status = status.markingQueued(queued) }
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        if json {
            print(status.json.serialized())
            return
        }
        print(StatusCommand.text(status, show: show))
    }

    /// The text `status` prints.
    static func text(_ status: BatchStatus, show: Int) -> String {
        var lines: [String] = []
        let states = BatchStatus.CaseState.allCases.map { "\(status.count($0)) \($0.rawValue)" }.joined(separator: ", ")
        let layout = status.sharded ? "\(status.shardCount) shard\(status.shardCount == 1 ? "" : "s")" : "one run"
        lines.append("\(status.output): \(status.cases.count) case\(status.cases.count == 1 ? "" : "s") in \(layout): \(states)"
                     + (status.plan == nil ? " (no plan.json: only cases with an outcome are known)" : ""))
        for s in status.shards {
            let name = status.sharded ? "shard \(s.index)/\(status.shardCount)" : "run"
            let counts = BatchStatus.CaseState.allCases.compactMap { st in (s.counts[st] ?? 0) > 0 ? "\(s.counts[st] ?? 0) \(st.rawValue)" : nil }.joined(separator: ", ")
            var where_ = ""
            if let host = s.host { where_ += " on \(host)" }
            if let started = s.started { where_ += ", started \(started)" }
            if let finished = s.finished { where_ += ", ended \(finished)" }
            lines.append("  \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(s.state.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)) \(counts.isEmpty ? "no cases" : counts)\(where_)")
        }
        if show > 0 {
            for state in [BatchStatus.CaseState.running, .missing] {
                let ids = status.cases.filter { $0.state == state }.map(\.id)
                guard !ids.isEmpty else { continue }
                lines.append("\(state.rawValue): " + ids.prefix(show).joined(separator: ", ") + (ids.count > show ? ", … (\(ids.count - show) more)" : ""))
            }
            let failed = status.cases.filter { $0.state == .failed }
            for c in failed.prefix(show) { lines.append("failed: \(c.id): \(c.error ?? "")") }
            if failed.count > show { lines.append("failed: … (\(failed.count - show) more; see --json)") }
        }
        let again = status.shardsToSubmit(retryFailed: false)
        if !again.isEmpty && status.sharded {
            lines.append("shards with work left: \(again.map(String.init).joined(separator: ", ")); `voxelflow submit` with the same pipeline, --input and --output runs only those")
        }
        return lines.joined(separator: "\n")
    }
}
