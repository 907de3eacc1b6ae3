import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

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
    /// With `resume`: cases with a DICOM series input of one of these SeriesInstanceUIDs run again even when
    /// an earlier run completed them (the series has grown since); their results and manifest line are replaced.
    public var rerunSeries: Set<String> = []
    /// Run only shard `index` of `count` (1-based).
    public var shard: (index: Int, count: Int)? = nil
    /// List the cases and planned outputs without reading scans or writing anything.
    public var dryRun = false
    /// The command line, recorded in `run.json`.
    public var commandLine: [String] = []
    /// The tool version, recorded in `run.json`.
    public var toolVersion = ""
    /// The pipeline file (absolute), recorded in `run.json` so that `voxelflow report` can rebuild the
    /// batch pages without being told where it is.
    public var pipelinePath: String? = nil

    public init(archive: String, output: String) {
        self.archive = archive
        self.output = output
    }

    /// The folder in the output folder that caches the series of a run whose archive is a PACS.
    public static let pacsCacheName = "pacs"

    /// One case per core, but no more than one per 3 GiB of memory (a 512×512×400 CT with a few float
    /// copies during preprocessing needs about that), and at least one.
    public static var defaultJobs: Int {
        let perCase: UInt64 = 3 << 30
        let byMemory = Int(max(1, ProcessInfo.processInfo.physicalMemory / perCase))
        return max(1, min(System.coreCount, byMemory))
    }
}

/// Runs a pipeline over every case of an archive.
///
/// Output layout: `OUT/cases/<case id>/…` per case, `OUT/manifest.jsonl` (one line per case) and
/// `OUT/run.json` (provenance). Each case is built in `OUT/.partial/<case id>` and renamed into place only
/// when all its stages succeeded; a failed case leaves nothing under `OUT/cases`, and a killed run leaves
/// only `.partial`, which the next run removes.
public struct Runner: Sendable {
    /// The run-level errors (kept under this name for callers that catch `Runner.RunError`).
    public typealias RunError = VoxelPipeline.RunError

    public let spec: PipelineSpec
    public let registry: StageRegistry

    /// The tool's version, recorded in reports ("" leaves it out).
    public var toolVersion = ""

    public init(spec: PipelineSpec, registry: StageRegistry) {
        self.spec = spec
        self.registry = registry
    }

    /// Runs the pipeline.
    /// - Parameter control: lets the caller stop the run (finish the cases in flight, start no new one).
    /// - Returns: the summary; failed cases do not throw (they are in the summary and the manifest).
    /// - Throws: `RunError` for problems with the run as a whole (an unusable output folder, a stage that
    ///   cannot be built, an archive that cannot be read or holds no case).
    public func run(_ options: RunOptions, progress: ProgressReporter, control: RunControl = RunControl()) throws -> RunSummary {
        let started = Clock.now()
        let startDate = Date()
        if let s = spec.stages.first(where: { AugmentationStages.augmentationType[$0.type] != nil }) {
            throw RunError.stageSetup(stage: s.id, type: s.type, reason: "a training augmentation: it runs only in `voxelflow train` (the run folder's inference.json is this pipeline without it)")
        }
        let stages = try buildStages()
        let discovery: Discovery
        do {
            discovery = try CaseDiscovery.survey(spec, archive: options.archive)
        } catch let e as DICOMError {
            throw RunError.archive(path: e.path, reason: e.reason)
        }
        if let reason = discovery.emptyReason, discovery.cases.isEmpty { throw RunError.noCases(reason: reason) }
        var cases = discovery.cases
        if let shard = options.shard { cases = CaseDiscovery.shard(cases, index: shard.index, count: shard.count) }
        let rerun = Runner.cases(cases, reading: options.rerunSeries)
        let archive = realpath(options.archive, nil).map { p in defer { free(p) }; return String(cString: p) } ?? options.archive

        let out = options.output
        let files = RunFiles(output: out, shard: options.shard)
        let plan = RunPlan(archive: archive, pipelineSHA: spec.sha256, shardCount: options.shard?.count ?? 1,
                           sharded: options.shard != nil, cases: discovery.cases.map(\.id))

        if options.dryRun {
            let folder = OutputFolderState.inspect(out)
            let mine = folder.runs.first { $0.files.tag == files.tag }
            let (completed, _) = options.resume ? completedCases(of: mine, out: out, rerun: rerun) : ([], [])
            let todo = cases.filter { !completed.contains($0.id) }
            let planned = todo.map { c in (c.id, plannedOutputs(for: c.id), c.problem) }
            return RunSummary(total: cases.count, succeeded: 0, failed: 0, skipped: cases.count - todo.count, seconds: Clock.now() - started,
                              failures: [], plan: planned, files: files, inventory: discovery.inventory)
        }

        // Someone else's folder is refused before anything is created in it. A folder with the lock file
        // is VoxelFlow's (a shard may be starting in it right now): the check under the lock decides.
        let before = OutputFolderState.inspect(out)
        if before.runs.isEmpty && !before.allEntries.contains(RunFiles.folderLockName) && !before.entriesBlockingFirstRun.isEmpty {
            throw RunError.outputNotARun(path: out, entries: before.entriesBlockingFirstRun)
        }
        let fm = FileManager.default
        // The folder lock serialises the start and end of the runs sharing the folder (shards of a job array
        // start at the same moment); the shard lock is held for the whole run and tells `status` it is alive.
        let folderLock: FileLock
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            folderLock = try FileLock(path: files.folderLock)
            try folderLock.lock()
        } catch {
            throw RunError.cannotPrepareOutput(path: out, reason: FileSystemMessage.describe(error))
        }
        // `.partial` and the shard's lock file are made under the folder lock: a run ending at the same moment
        // removes `.partial` (when empty) under that lock too.
        let prepared: (todo: [Case], skipped: Int, written: Set<String>, manifest: Manifest, record: Locked<RunRecord>)
        let shardLock: FileLock
        do {
            defer { folderLock.unlock() }
            do {
                try fm.createDirectory(atPath: "\(out)/.partial", withIntermediateDirectories: true)
                shardLock = try FileLock(path: files.liveLock)
            } catch {
                throw RunError.cannotPrepareOutput(path: out, reason: FileSystemMessage.describe(error))
            }
            prepared = try prepareFolder(files: files, options: options, cases: cases, archive: archive, plan: plan,
                                         inventory: discovery.inventory, startDate: startDate, shardLock: shardLock)
        }
        let (todo, skipped, written, manifest, record) = prepared
        control.setAbandonHandler {
            record.update { $0.abandon(Date()) }
            try? record.value.write(to: files.provenance)
        }
        defer { control.setAbandonHandler(nil) }

        progress.begin(total: todo.count, skipped: skipped)
        let results = Results()
        let next = Results.Counter()
        let recordFailures = Locked([String]())
        let jobs = max(1, min(options.jobs, todo.count))
        let group = DispatchGroup()
        for _ in 0..<jobs {
            group.enter()
            // One compute budget: the cores are shared between the cases running at the same time, so every
            // parallel loop inside a case (decoding, resampling, convolution) uses its share, not all cores.
            let share = max(1, System.coreCount / jobs)
            let thread = Thread {
                ComputeBudget.withThreads(share) {
                while !control.stopRequested, let n = next.take(limit: todo.count) {
                    let caseRecord = self.process(todo[n], stages: stages, out: out, staging: files.staging,
                                                  written: written, manifest: manifest, failures: recordFailures)
                    results.add(caseRecord)
                    progress.finished(caseRecord)
                }
                }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        progress.end()
        do {
            try? folderLock.lock()
            defer { folderLock.unlock() }
            try? fm.removeItem(atPath: files.staging)
            unlink(files.liveLock)
            shardLock.unlock()
            rmdir("\(out)/.partial")  // only when no other run or shard is using it
        }

        let records = results.all
        let failures = records.filter { $0.status == .failed }.sorted { $0.caseID < $1.caseID }
        var summary = RunSummary(total: cases.count, succeeded: records.count - failures.count, failed: failures.count,
                                 skipped: skipped, seconds: Clock.now() - started, failures: failures, plan: [],
                                 files: files, inventory: discovery.inventory)
        summary.interrupted = control.stopRequested && records.count < todo.count
        summary.notStarted = todo.count - records.count
        summary.warnings = WarningSummary(records)
        summary.recordErrors = recordFailures.value
        record.update { $0.finish(Date(), summary: summary) }
        try record.value.write(to: files.provenance)
        do {
            try BatchIndex.write(output: out, spec: spec)
        } catch {
            throw RunError.cannotRecord(path: "\(out)/\(BatchIndex.page)", reason: "\(error)")
        }
        do {
            try EvaluationIndex.write(output: out, spec: spec)
        } catch {
            throw RunError.cannotRecord(path: "\(out)/\(EvaluationTable.casesFile)", reason: "\(error)")
        }
        if let problem = recordFailures.value.first {
            throw RunError.cannotRecord(path: files.manifest, reason: problem)
        }
        return summary
    }

    /// Checks the output folder against the run asked for, takes the shard lock, prepares the folder and
    /// writes the manifest (completed cases only), inventory, plan and provenance. Called under the folder lock.
    private func prepareFolder(files: RunFiles, options: RunOptions, cases: [Case], archive: String, plan: RunPlan,
                               inventory: [InventoryEntry], startDate: Date, shardLock: FileLock)
        throws -> (todo: [Case], skipped: Int, written: Set<String>, manifest: Manifest, record: Locked<RunRecord>) {
        let out = files.output
        let folder = OutputFolderState.inspect(out)
        let mine = folder.runs.first { $0.files.tag == files.tag }
        let others = folder.runs.filter { $0.files.tag != files.tag }
        // Shards of the same count share a folder; anything else covers the cases differently.
        let conflicting = others.filter { $0.files.tag == nil || files.tag == nil || $0.files.shardCount != files.shardCount }
        let siblings = others.filter { o in !conflicting.contains { $0.files.tag == o.files.tag } }
        // Without a provenance file nothing in the folder is known to be VoxelFlow's: it must be empty.
        if folder.runs.isEmpty && !folder.entriesBlockingFirstRun.isEmpty {
            throw RunError.outputNotARun(path: out, entries: folder.entriesBlockingFirstRun)
        }
        if !conflicting.isEmpty && !options.force {
            throw RunError.shardLayoutConflict(output: out, existing: conflicting.map(\.files.label), requested: files.label)
        }
        for other in (options.resume ? [mine].compactMap { $0 } : []) + siblings {
            if let recorded = other.archive, recorded != archive {
                throw RunError.archiveMismatch(output: out, recorded: recorded, given: archive)
            }
            if let recorded = other.pipelineSHA, recorded != spec.sha256 {
                throw RunError.pipelineChanged(output: out, recorded: recorded, now: spec.sha256)
            }
        }
        if mine != nil && !options.resume && !options.force {
            throw RunError.outputHoldsRun(path: out, provenance: (files.provenance as NSString).lastPathComponent)
        }
        for run in [mine].compactMap({ $0 }) + (options.force ? conflicting : []) where FileLock.isHeld(run.files.liveLock) {
            throw RunError.alreadyRunning(output: out, run: run.files.label, host: run.host)
        }
        do {
            guard try shardLock.tryLock() else { throw RunError.alreadyRunning(output: out, run: files.label, host: nil) }
        } catch let e as RunError {
            throw e
        } catch {
            throw RunError.cannotPrepareOutput(path: out, reason: "\(error)")
        }
        let rerun = Runner.cases(cases, reading: options.rerunSeries)
        let (completed, keptLines) = options.resume ? completedCases(of: mine, out: out, rerun: rerun) : ([], [])
        let todo = cases.filter { !completed.contains($0.id) }

        // Prepare the output folder: remove only what earlier runs wrote, and only when asked to (--force).
        let fm = FileManager.default
        do {
            if options.force { try folder.remove([mine].compactMap { $0 } + conflicting) }
            try fm.createDirectory(atPath: "\(out)/cases", withIntermediateDirectories: true)
            if fm.fileExists(atPath: files.staging) { try fm.removeItem(atPath: files.staging) }
            try fm.createDirectory(atPath: files.staging, withIntermediateDirectories: true)
        } catch {
            throw RunError.cannotPrepareOutput(path: out, reason: FileSystemMessage.describe(error))
        }
        let written = OutputFolderState.inspect(out).caseIDsWritten(by: OutputFolderState.inspect(out).runs)
        // Keep only the completed cases' lines (drops failed ones and a line cut short by a killed run).
        do {
            try AtomicFile.write(Array(keptLines.map { $0 + "\n" }.joined().utf8), to: files.manifest)
            try AtomicFile.write(Array(inventory.map { $0.json.serialized(pretty: false) + "\n" }.joined().utf8), to: files.inventory)
        } catch {
            throw RunError.cannotRecord(path: files.manifest, reason: "\(error)")
        }
        try plan.write(output: out)
        let manifest: Manifest
        do { manifest = try Manifest(path: files.manifest) } catch { throw RunError.cannotRecord(path: files.manifest, reason: "\(error)") }
        let history = options.resume ? (mine?.invocations ?? []) : []
        let record = Locked(RunRecord(spec: spec, options: options, archive: archive, started: startDate, total: cases.count, history: history))
        try record.value.write(to: files.provenance)
        return (todo, cases.count - todo.count, written, manifest, record)
    }

    /// The cases an earlier invocation of this run completed (last manifest line "ok" and the case folder
    /// present), with their manifest lines.
    /// The ids of the cases with a DICOM series input whose SeriesInstanceUID is in `series`.
    static func cases(_ cases: [Case], reading series: Set<String>) -> Set<String> {
        guard !series.isEmpty else { return [] }
        return Set(cases.filter { c in
            c.inputs.values.contains { input in
                switch input.source {
                case .dicomSeries(let stack, _): return series.contains(stack.header.seriesInstanceUID)
                case .dicomObject(_, let stack): return series.contains(stack.header.seriesInstanceUID)
                case .niftiFile: return false
                }
            }
        }.map(\.id))
    }

    /// The cases an earlier run completed (minus `rerun`) and their manifest lines.
    private func completedCases(of run: ExistingRun?, out: String, rerun: Set<String> = []) -> (Set<String>, [String]) {
        guard let run else { return ([], []) }
        var completed = Set<String>()
        var keptLines: [String] = []
        // The last line of a case is its outcome; a completed case also needs its folder.
        var last: [String: (status: String, line: String)] = [:]
        var order: [String] = []
        for entry in Manifest.readEntries(run.files.manifest) {
            if last[entry.caseID] == nil { order.append(entry.caseID) }
            last[entry.caseID] = (entry.status, entry.line)
        }
        for id in order {
            guard !rerun.contains(id), let entry = last[id], entry.status == "ok", FileManager.default.fileExists(atPath: "\(out)/cases/\(id)") else { continue }
            completed.insert(id)
            keptLines.append(entry.line)
        }
        return (completed, keptLines)
    }

    /// Builds every stage once for the run (loading resources such as model weights).
    func buildStages() throws -> [(spec: StageSpec, stage: any Stage)] {
        try spec.stages.enumerated().map { n, s in
            if let built = spec.builtStages, n < built.count { return (s, built[n]) }
            guard let definition = registry[s.type] else { throw RunError.stageSetup(stage: s.id, type: s.type, reason: "unknown stage type") }
            do {
                return (s, try definition.make(StageConfiguration(id: s.id, parameters: s.parameters, pipelineDirectory: spec.directory)))
            } catch {
                throw RunError.stageSetup(stage: s.id, type: s.type, reason: "\(error)")
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
    /// Runs every stage on one case and records it; never throws (failures become the record's error).
    /// The manifest line is appended before the finished case is renamed into place, so every case folder
    /// VoxelFlow writes is named in a manifest (and only those are ever replaced or removed).
    func process(_ c: Case, stages: [(spec: StageSpec, stage: any Stage)], out: String, staging stagingRoot: String,
                 written: Set<String>, manifest: Manifest, failures: Locked<[String]>) -> CaseRecord {
        var record = run(c, stages: stages, staging: "\(stagingRoot)/\(c.id)", out: out)
        let fm = FileManager.default
        let staging = "\(stagingRoot)/\(c.id)"
        func append(_ r: CaseRecord) {
            do { try manifest.append(r) } catch { failures.update { $0.append("\(error)") } }
        }
        /// Drops the staged files and records the case as failed at the output step.
        func failOutput(_ message: String) -> CaseRecord {
            try? fm.removeItem(atPath: staging)
            record.status = .failed
            record.outputs = []
            record.error = ("output", message)
            append(record)
            return record
        }
        guard record.status == .ok else { append(record); return record }
        let destination = "\(out)/cases/\(c.id)"
        if fm.fileExists(atPath: destination) && !written.contains(c.id) {
            return failOutput("\(destination): already exists and no VoxelFlow run in this folder wrote it; nothing was replaced (move it away and use --resume)")
        }
        append(record)
        do {
            if fm.fileExists(atPath: destination) { try fm.removeItem(atPath: destination) }
            try fm.moveItem(atPath: staging, toPath: destination)
        } catch {
            return failOutput("\(destination): cannot move the finished case into place: \(FileSystemMessage.describe(error))")
        }
        return record
    }

    /// Runs every stage of one case in its staging folder.
    func run(_ c: Case, stages: [(spec: StageSpec, stage: any Stage)], staging: String, out: String? = nil) -> CaseRecord {
        let start = Clock.now()
        let fm = FileManager.default
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
            return fail("output", "\(staging): cannot create: \(FileSystemMessage.describe(error))")
        }
        var context = CaseContext(caseID: c.id, inputs: c.inputs, seed: Runner.caseSeed(spec.seed, c.id), stagingDirectory: staging,
                                  pipeline: PipelineIdentity(name: spec.name, sha256: spec.sha256, tool: toolVersion.isEmpty ? "" : "voxelflow \(toolVersion)"))
        context.runFolder = out
        let last = lastUses()
        for (n, (s, stage)) in stages.enumerated() {
            context.currentStage = s.id
            if let reason = context.skipReason(s) {
                context.skip(s.id, reason: reason)
                continue
            }
            let loadsBefore = context.loadTimes.count
            let t0 = Clock.now()
            do {
                if let value = try stage.run(&context) { context.store(value, as: s.id) }
            } catch let e as InputLoadError {
                record.extra = context.manifestEntries
                record.warnings = context.warnings
                record.timings += context.loadTimes[loadsBefore...].map { ("load:\($0.0)", $0.1) }
                return fail("input:\(e.input)", e.message)
            } catch {
                record.extra = context.manifestEntries
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
        record.skipped = context.skipped
        record.extra = context.manifestEntries
        record.status = .ok
        record.outputs = context.outputs.map { "cases/\(c.id)/\($0)" }
        record.seconds = Clock.now() - start
        return record
    }
}
