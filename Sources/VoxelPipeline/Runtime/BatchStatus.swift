import Foundation
import VoxelIO
import VoxelSupport

/// The state of every case and shard of the run(s) in an output folder, merged over all shards: what
/// `voxelflow status` prints and what `voxelflow submit` uses to re-submit only the shards with work left.
///
/// Case states: **done** (its last manifest line is "ok" and its folder exists), **failed** (its last line
/// is "failed"), **running** (its shard is alive and the case is being built in `.partial`), **pending**
/// (its shard is alive, or queued, and has not reached it), **missing** (no outcome and its shard is not alive: not
/// started yet, killed, or interrupted). A shard is alive while its process holds its lock
/// (`.partial/<shard>.lock`), so a shard killed by `scancel`, `kill -9` or a node failure shows as
/// **stopped** even though its provenance still says "running". An unsharded run's cases are those of its
/// plan followed by any other case its manifest records (one whose input left the archive after it ran).
public struct BatchStatus: Sendable {
    /// The state of one case.
    public enum CaseState: String, Sendable, CaseIterable {
        case done, failed, running, pending, missing
    }

    /// The state of one shard (or of the single unsharded run).
    public enum ShardState: String, Sendable {
        case notStarted = "not started"
        /// Waiting in the scheduler's queue (known from `squeue`, see `markingQueued`).
        case queued
        case running
        /// Its provenance says "running" but no process holds its lock: it was killed.
        case stopped
        case interrupted
        case succeeded
        case finishedWithFailures = "finished with failures"
    }

    /// One case.
    public struct CaseEntry: Sendable {
        public var id: String
        /// The shard that runs it (1 when unsharded).
        public var shard: Int
        public var state: CaseState
        /// For failed cases: the stage and message.
        public var error: String?
        /// For done and failed cases: seconds the case took.
        public var seconds: Double?
    }

    /// One shard.
    public struct Shard: Sendable {
        public var index: Int
        public var state: ShardState
        /// Host, start and end of its latest invocation, as recorded.
        public var host: String?
        public var started: String?
        public var finished: String?
        /// Its cases by state.
        public var counts: [CaseState: Int]
    }

    /// The output folder.
    public var output: String
    /// Shard count (1 when unsharded).
    public var shardCount: Int
    /// True when the folder holds shards (`--shard i/n`), false for one unsharded run.
    public var sharded: Bool
    /// Every case, in plan order.
    public var cases: [CaseEntry]
    public var shards: [Shard]
    /// The plan, when one was recorded (without it, only cases with an outcome are known).
    public var plan: RunPlan?

    /// Cases in `state`.
    public func count(_ state: CaseState) -> Int { cases.reduce(0) { $0 + ($1.state == state ? 1 : 0) } }

    /// True when every case has an outcome (done or failed) and no shard is running.
    public var isFinished: Bool {
        cases.allSatisfy { $0.state == .done || $0.state == .failed } && !shards.contains { $0.state == .running || $0.state == .queued }
    }

    /// The status with `shards` (waiting in the scheduler's queue) marked queued, unless they run already;
    /// their missing cases become pending.
    public func markingQueued(_ queued: Set<Int>) -> BatchStatus {
        var copy = self
        for n in copy.shards.indices where queued.contains(copy.shards[n].index) && copy.shards[n].state != .running {
            copy.shards[n].state = .queued
        }
        let waiting = Set(copy.shards.filter { $0.state == .queued }.map(\.index))
        for n in copy.cases.indices where copy.cases[n].state == .missing && waiting.contains(copy.cases[n].shard) {
            copy.cases[n].state = .pending
        }
        for n in copy.shards.indices {
            var counts: [CaseState: Int] = [:]
            for c in copy.cases where c.shard == copy.shards[n].index { counts[c.state, default: 0] += 1 }
            copy.shards[n].counts = counts
        }
        return copy
    }

    /// The shards a re-submission should run: those not running or queued that were never started, were stopped or
    /// interrupted, or have missing cases (and, with `retryFailed`, failed ones: `--resume` re-runs them).
    public func shardsToSubmit(retryFailed: Bool) -> [Int] {
        shards.filter { s in
            guard s.state != .running && s.state != .queued else { return false }
            if [.notStarted, .stopped, .interrupted].contains(s.state) { return true }
            return (s.counts[.missing] ?? 0) > 0 || (retryFailed && (s.counts[.failed] ?? 0) > 0)
        }.map(\.index)
    }

    /// Reads the folder.
    /// - Throws: `BatchStatusError` when the folder holds neither a run nor a plan, or holds runs split in
    ///   different ways.
    public static func read(output: String) throws -> BatchStatus {
        let folder = OutputFolderState.inspect(output)
        let plan = RunPlan.read(output: output)
        guard folder.exists else { throw BatchStatusError(message: "\(output): no such folder") }
        guard !folder.runs.isEmpty || plan != nil else {
            throw BatchStatusError(message: "\(output): holds no VoxelFlow run (no run.json, run-shard-*.json or plan.json)")
        }
        let sharded = plan?.sharded ?? folder.runs.contains { $0.files.tag != nil }
        let layouts = Set(folder.runs.map { $0.files.tag == nil ? 0 : $0.files.shardCount })
        let count = plan?.shardCount ?? layouts.first.map { max(1, $0) } ?? 1
        guard layouts.count <= 1, layouts.allSatisfy({ $0 == (sharded ? count : 0) }) else {
            throw BatchStatusError(message: "\(output): holds runs split in different ways (\(folder.runs.map(\.files.label).joined(separator: ", "))); run again with --force to start over")
        }

        // The last manifest line of a case is its outcome.
        var outcome: [String: JSONNode] = [:]
        for run in folder.runs {
            for entry in Manifest.readEntries(run.files.manifest) {
                if let node = try? JSONParser.parse(entry.line) { outcome[entry.caseID] = node }
            }
        }
        var ids = plan?.cases ?? outcome.keys.sorted()
        if !sharded, plan != nil {
            // Cases with an outcome that the last plan no longer lists: a run from a PACS with a bounded
            // cache plans each pass over what the cache still holds, and removes processed series from it.
            let planned = Set(ids)
            ids += outcome.keys.filter { !planned.contains($0) }.sorted()
        }
        let known = RunPlan(archive: "", pipelineSHA: "", shardCount: count, sharded: sharded, cases: ids)

        var shardStates: [Int: (state: ShardState, run: ExistingRun?)] = [:]
        for index in 1...count {
            let files = RunFiles(output: output, shard: sharded ? (index, count) : nil)
            guard let run = folder.runs.first(where: { $0.files.tag == files.tag }) else {
                shardStates[index] = (.notStarted, nil)
                continue
            }
            let alive = FileLock.isHeld(files.liveLock)
            let state: ShardState
            switch run.status {
            case _ where alive: state = .running
            case "succeeded": state = .succeeded
            case "finished with failures": state = .finishedWithFailures
            case "interrupted": state = .interrupted
            default: state = .stopped
            }
            shardStates[index] = (state, run)
        }

        let fm = FileManager.default
        var cases: [CaseEntry] = []
        for (n, id) in ids.enumerated() {
            let shard = known.shard(ofCaseAt: n)
            var entry = CaseEntry(id: id, shard: shard, state: .missing)
            if let node = outcome[id], let status = node.member("status")?.value.string {
                if case .number(let s)? = node.member("seconds")?.value.value { entry.seconds = s }
                if status == "ok", fm.fileExists(atPath: "\(output)/cases/\(id)") {
                    entry.state = .done
                } else if status == "failed" {
                    entry.state = .failed
                    let error = node.member("error")?.value
                    entry.error = "\(error?.member("stage")?.value.string ?? "?"): \(error?.member("message")?.value.string ?? "no reason recorded")"
                }
            }
            if entry.state == .missing, shardStates[shard]?.state == .running {
                let staging = RunFiles(output: output, shard: sharded ? (shard, count) : nil).staging
                entry.state = fm.fileExists(atPath: "\(staging)/\(id)") ? .running : .pending
            }
            cases.append(entry)
        }
        let shards = (1...count).map { index -> Shard in
            let s = shardStates[index] ?? (.notStarted, nil)
            var counts: [CaseState: Int] = [:]
            for c in cases where c.shard == index { counts[c.state, default: 0] += 1 }
            return Shard(index: index, state: s.state, host: s.run?.host, started: s.run?.started, finished: s.run?.finished, counts: counts)
        }
        return BatchStatus(output: output, shardCount: count, sharded: sharded, cases: cases, shards: shards, plan: plan)
    }

    /// The status as JSON (`voxelflow status --json`).
    public var json: JSON {
        func counts(_ c: [CaseState: Int]) -> JSON { .object(CaseState.allCases.map { ($0.rawValue, .int(c[$0] ?? 0)) }) }
        var all: [CaseState: Int] = [:]
        for c in cases { all[c.state, default: 0] += 1 }
        return .object([
            ("output", .string(output)),
            ("sharded", .bool(sharded)),
            ("shards", .int(shardCount)),
            ("finished", .bool(isFinished)),
            ("cases", counts(all)),
            ("shardStates", .array(shards.map { s in
                .object([("shard", .int(s.index)), ("state", .string(s.state.rawValue)), ("host", s.host.map { .string($0) } ?? .null),
                         ("started", s.started.map { .string($0) } ?? .null), ("finished", s.finished.map { .string($0) } ?? .null),
                         ("cases", counts(s.counts))])
            })),
            ("caseStates", .array(cases.map { c in
                var m: [(String, JSON)] = [("case", .string(c.id)), ("shard", .int(c.shard)), ("state", .string(c.state.rawValue))]
                if let e = c.error { m.append(("error", .string(e))) }
                return .object(m)
            })),
        ])
    }
}

/// An output folder whose status cannot be told.
public struct BatchStatusError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
