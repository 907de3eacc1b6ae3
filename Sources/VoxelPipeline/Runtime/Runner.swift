import Foundation
import VoxelCore

/// How a run is carried out.
public struct RunOptions: Sendable {
    /// The archive folder.
    public var archive: String
    /// The output folder (created when missing).
    public var output: String
    /// Cases processed at the same time.
    public var jobs: Int = RunOptions.defaultJobs
    /// Skip cases an earlier run of the same pipeline completed; redo the rest.
    public var resume = false
    /// Start over in an output folder that already holds a run (its results are removed).
    public var force = false
    /// Run only shard `index` of `count` (1-based).
    public var shard: (index: Int, count: Int)? = nil
    /// List the cases and planned outputs without reading scans or writing anything.
    public var dryRun = false
    /// The command line, recorded in `run.json`.
    public var commandLine: [String] = []
    /// The tool version, recorded in `run.json`.
    public var toolVersion = ""

    public init(archive: String, output: String) {
        self.archive = archive
        self.output = output
    }

    /// One case per core, but no more than one per 3 GiB of memory (a 512×512×400 CT with a few float
    /// copies during preprocessing needs about that), and at least one.
    public static var defaultJobs: Int {
        let perCase: UInt64 = 3 << 30
        let byMemory = Int(max(1, ProcessInfo.processInfo.physicalMemory / perCase))
        return max(1, min(System.coreCount, byMemory))
    }
}

/// What a run did.
public struct RunSummary: Sendable {
    /// Cases in this run (after sharding), including skipped ones.
    public var total: Int
    public var succeeded: Int
    public var failed: Int
    /// Cases skipped because an earlier run completed them (`--resume`).
    public var skipped: Int
    public var seconds: Double
    /// The failed cases' records.
    public var failures: [CaseRecord]
    /// For dry runs: the cases that would run and the files each would write.
    public var plan: [(caseID: String, outputs: [String], problem: String?)]
}

/// Runs a pipeline over every case of an archive.
///
/// Output layout: `OUT/cases/<case id>/…` per case, `OUT/manifest.jsonl` (one line per case) and
/// `OUT/run.json` (provenance). Each case is built in `OUT/.partial/<case id>` and renamed into place only
/// when all its stages succeeded; a failed case leaves nothing under `OUT/cases`, and a killed run leaves
/// only `.partial`, which the next run removes.
public struct Runner: Sendable {
    public let spec: PipelineSpec
    public let registry: StageRegistry

    public init(spec: PipelineSpec, registry: StageRegistry) {
        self.spec = spec
        self.registry = registry
    }

    /// Errors that stop a run before any case is processed.
    public struct RunError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs the pipeline.
    /// - Returns: the summary; failed cases do not throw (they are in the summary and the manifest).
    /// - Throws: `RunError` / `CaseError` for problems with the run as a whole (unusable output folder,
    ///   a stage that cannot be built, an archive that cannot be read).
    public func run(_ options: RunOptions, progress: ProgressReporter) throws -> RunSummary {
        let started = Clock.now()
        let startDate = Date()
        let stages = try buildStages()
        var cases = try CaseDiscovery.discover(spec, archive: options.archive)
        if let shard = options.shard { cases = CaseDiscovery.shard(cases, index: shard.index, count: shard.count) }

        let out = options.output
        let manifestPath = "\(out)/manifest.jsonl"
        let runPath = "\(out)/run.json"
        let fm = FileManager.default
        let hasRun = fm.fileExists(atPath: manifestPath) || fm.fileExists(atPath: runPath)
        if hasRun && !options.resume && !options.force && !options.dryRun {
            throw RunError(description: "\(out) already holds a run; use --resume to continue it or --force to start over")
        }
        var completed = Set<String>()
        var keptLines: [String] = []
        if hasRun && options.resume {
            if let previous = fm.contents(atPath: runPath).flatMap({ try? JSONParser.parse(String(decoding: $0, as: UTF8.self)) }),
               let hash = previous.member("pipeline")?.value.member("sha256")?.value.string, hash != spec.sha256 {
                throw RunError(description: "\(out): the pipeline file changed since this run started (sha256 \(hash.prefix(12))…, now \(spec.sha256.prefix(12))…); use --force to start over")
            }
            for entry in Manifest.readEntries(manifestPath) where entry.status == "ok" {
                if fm.fileExists(atPath: "\(out)/cases/\(entry.caseID)") && !completed.contains(entry.caseID) {
                    completed.insert(entry.caseID)
                    keptLines.append(entry.line)
                }
            }
        }
        let todo = cases.filter { !completed.contains($0.id) }
        let skipped = cases.count - todo.count

        if options.dryRun {
            let plan = todo.map { c in (c.id, plannedOutputs(for: c.id), c.problem) }
            return RunSummary(total: cases.count, succeeded: 0, failed: 0, skipped: skipped, seconds: Clock.now() - started, failures: [], plan: plan)
        }

        // Prepare the output folder.
        do {
            if options.force && hasRun {
                for item in ["cases", ".partial", "manifest.jsonl", "run.json"] where fm.fileExists(atPath: "\(out)/\(item)") {
                    try fm.removeItem(atPath: "\(out)/\(item)")
                }
            }
            try fm.createDirectory(atPath: "\(out)/cases", withIntermediateDirectories: true)
            if fm.fileExists(atPath: "\(out)/.partial") { try fm.removeItem(atPath: "\(out)/.partial") }
            try fm.createDirectory(atPath: "\(out)/.partial", withIntermediateDirectories: true)
        } catch {
            throw RunError(description: "\(out): cannot prepare the output folder: \(error.localizedDescription)")
        }
        // Keep only the completed cases' lines (drops failed ones and a line cut short by a killed run).
        try AtomicWrite.write(Array(keptLines.map { $0 + "\n" }.joined().utf8), to: manifestPath)
        let manifest = try Manifest(path: manifestPath)
        var record = RunRecord(spec: spec, options: options, started: startDate, total: cases.count)
        try record.write(to: runPath)

        progress.begin(total: todo.count, skipped: skipped)
        let results = Results()
        let next = Results.Counter()
        let jobs = max(1, min(options.jobs, todo.count))
        let group = DispatchGroup()
        for _ in 0..<jobs {
            group.enter()
            let thread = Thread {
                while let n = next.take(limit: todo.count) {
                    let caseRecord = self.process(todo[n], stages: stages, out: out)
                    try? manifest.append(caseRecord)
                    results.add(caseRecord)
                    progress.finished(caseRecord)
                }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        progress.end()
        try? fm.removeItem(atPath: "\(out)/.partial")

        let records = results.all
        let failures = records.filter { $0.status == .failed }.sorted { $0.caseID < $1.caseID }
        let summary = RunSummary(total: cases.count, succeeded: records.count - failures.count, failed: failures.count,
                                 skipped: skipped, seconds: Clock.now() - started, failures: failures, plan: [])
        record.finish(Date(), summary: summary)
        try record.write(to: runPath)
        return summary
    }

    /// Builds every stage once for the run (loading resources such as model weights).
    func buildStages() throws -> [(spec: StageSpec, stage: any Stage)] {
        try spec.stages.map { s in
            guard let definition = registry[s.type] else { throw RunError(description: "stage \(s.id): unknown type \(s.type)") }
            do {
                return (s, try definition.make(StageConfiguration(id: s.id, parameters: s.parameters, pipelineDirectory: spec.directory)))
            } catch {
                throw RunError(description: "stage \(s.id) (\(s.type)): cannot be set up: \(error)")
            }
        }
    }

    /// The files the writer stages would produce for a case.
    func plannedOutputs(for caseID: String) -> [String] {
        spec.stages.flatMap { s -> [String] in
            guard let definition = registry[s.type] else { return [] }
            return definition.parameters.filter { $0.type == .outputPath }.compactMap { p in
                s.parameters.string(p.name).map {
                    "cases/\(caseID)/" + $0.replacingOccurrences(of: "{case}", with: caseID).replacingOccurrences(of: "{id}", with: s.id)
                }
            }
        }
    }

    /// The stage index after which each value is no longer needed (reports are kept for the report writer).
    func lastUses() -> [String: Int] {
        var last: [String: Int] = [:]
        for (n, s) in spec.stages.enumerated() {
            guard let definition = registry[s.type] else { continue }
            for p in definition.parameters {
                switch p.type {
                case .reference: if let id = s.parameters.string(p.name) { last[id] = n }
                case .array(of: .reference, _): for id in s.parameters.strings(p.name) ?? [] { last[id] = n }
                default: break
                }
            }
        }
        return last
    }

    /// Seed of one case: the pipeline seed mixed with the case id, so it does not depend on job order.
    static func caseSeed(_ seed: UInt64, _ caseID: String) -> UInt64 {
        let digest = SHA256.hex(Array("\(seed):\(caseID)".utf8))
        return UInt64(digest.prefix(16), radix: 16) ?? seed
    }

    /// Runs every stage on one case; never throws (failures become the record's error).
    func process(_ c: Case, stages: [(spec: StageSpec, stage: any Stage)], out: String) -> CaseRecord {
        let start = Clock.now()
        let fm = FileManager.default
        let staging = "\(out)/.partial/\(c.id)"
        var record = CaseRecord(caseID: c.id, status: .failed,
                                inputs: .object(c.inputs.keys.sorted().compactMap { k in c.inputs[k].map { (k, $0.record) } }),
                                outputs: [], timings: [], seconds: 0, warnings: [], error: nil)
        func fail(_ stage: String, _ message: String) -> CaseRecord {
            try? fm.removeItem(atPath: staging)
            record.seconds = Clock.now() - start
            record.error = (stage, message)
            return record
        }
        if let problem = c.problem { return fail("inputs", problem) }
        do {
            if fm.fileExists(atPath: staging) { try fm.removeItem(atPath: staging) }
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            return fail("output", "\(staging): cannot create: \(error.localizedDescription)")
        }
        var context = CaseContext(caseID: c.id, inputs: c.inputs, seed: Runner.caseSeed(spec.seed, c.id), stagingDirectory: staging)
        let last = lastUses()
        for (n, (s, stage)) in stages.enumerated() {
            context.currentStage = s.id
            let loadsBefore = context.loadTimes.count
            let t0 = Clock.now()
            do {
                if let value = try stage.run(&context) { context.store(value, as: s.id) }
            } catch {
                record.warnings = context.warnings
                record.timings += context.loadTimes[loadsBefore...].map { ("load:\($0.0)", $0.1) }
                return fail(s.id, "\(error)")
            }
            let loads = context.loadTimes[loadsBefore...]
            record.timings += loads.map { ("load:\($0.0)", $0.1) }
            record.timings.append((s.id, Clock.now() - t0 - loads.reduce(0) { $0 + $1.1 }))
            for (id, useIndex) in last where useIndex == n {
                if let v = context.values[id], v.kind != .report { context.drop(id) }
            }
        }
        record.warnings = context.warnings
        // Move the finished case into place.
        let destination = "\(out)/cases/\(c.id)"
        do {
            if fm.fileExists(atPath: destination) { try fm.removeItem(atPath: destination) }
            try fm.moveItem(atPath: staging, toPath: destination)
        } catch {
            return fail("output", "\(destination): cannot move the finished case into place: \(error.localizedDescription)")
        }
        record.status = .ok
        record.outputs = context.outputs.map { "cases/\(c.id)/\($0)" }
        record.seconds = Clock.now() - start
        return record
    }
}

/// Thread-safe collection of case records and the next-case counter.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [CaseRecord] = []

    func add(_ r: CaseRecord) { lock.lock(); records.append(r); lock.unlock() }
    var all: [CaseRecord] { lock.lock(); defer { lock.unlock() }; return records }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take(limit: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
