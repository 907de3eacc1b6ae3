import Foundation
import VoxelNet
import VoxelPipeline

/// A listening node (`voxelflow listen`): receives series by DIMSE C-STORE, decides that a series is complete
/// when no instance of it has arrived for a quiet time, and runs a pipeline on the complete series.
///
/// Folders in OUT:
/// - `receiving/STUDY/SERIES/SOP.dcm`: instances as they arrive (each renamed into place when complete);
/// - `archive/STUDY/SERIES/SOP.dcm`: series found complete, moved here (renames, no copies);
/// - `results/`: a `voxelflow run` output folder over `archive/` (manifest, cases, provenance);
/// - `late/SERIES`: an empty file per archived series that late instances joined, until its case has run again.
/// Everything is on disk and written atomically, so after a crash or `kill -9` a restart finds series still
/// receiving, files them when they go quiet, and runs every archived case the results do not hold yet or
/// whose series grew after it ran.
public final class ListeningNode: @unchecked Sendable {
    public struct Options: Sendable {
        public var aeTitle = "VOXELFLOW"
        public var port: UInt16 = 11112
        public var output: String
        /// Seconds without a new instance after which a series counts as complete.
        public var quietSeconds = 10.0
        public var jobs = RunOptions.defaultJobs

        public init(output: String) { self.output = output }
    }

    public let spec: PipelineSpec
    public let registry: StageRegistry
    public let options: Options
    public var toolVersion = ""
    private let state = NodeState()
    private let log: @Sendable (String) -> Void

    public init(spec: PipelineSpec, registry: StageRegistry, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.spec = spec
        self.registry = registry
        self.options = options
        self.log = log
    }

    var receiving: String { "\(options.output)/receiving" }
    var archive: String { "\(options.output)/archive" }
    var results: String { "\(options.output)/results" }
    var late: String { "\(options.output)/late" }

    /// Asks `run()` to return after the pipeline run in progress.
    public func stop() { state.stop() }

    /// Listens and processes until `stop()`.
    /// - Throws: `ListenerError` when the port cannot be opened; `RunError` when the pipeline cannot run at all.
    public func run() throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: archive, withIntermediateDirectories: true)
        } catch {
            throw ListenerError(message: "\(options.output): cannot create the node's folders: \(error)")
        }
        let log = self.log, state = self.state
        let listener = StorageListener(aeTitle: options.aeTitle, port: options.port, folder: receiving) { event in
            switch event {
            case .filed(_, _, let series, _, let calling):
                state.arrived(series)
                if state.count(series) == 1 { log("receiving series \(series) from \(calling.isEmpty ? "an unnamed peer" : calling)") }
            case .rejected(let path, let reason):
                log("refused \(path): \(reason)")
            }
        }
        let failure = ListenerFailure()
        let thread = Thread {
            do { try listener.run() } catch { failure.set(error) }
            state.listenerEnded()
        }
        thread.start()
        log("listening as \(options.aeTitle) on port \(options.port); a series is complete after \(options.quietSeconds) s without a new instance")
        var first = true
        while !state.isStopping {
            if let error = failure.error { throw error }
            let moved = fileQuietSeries(listener)
            if moved > 0 || (first && hasArchivedSeries()) {
                try process()
            }
            first = false
            Thread.sleep(forTimeInterval: 0.25)
        }
        listener.stop()
        while !state.hasListenerEnded { Thread.sleep(forTimeInterval: 0.05) }
        if let error = failure.error { throw error }
    }

    private func hasArchivedSeries() -> Bool {
        !((try? FileManager.default.contentsOfDirectory(atPath: archive)) ?? []).isEmpty
    }

    /// Moves the series that have been quiet long enough from `receiving/` to `archive/`; returns how many.
    private func fileQuietSeries(_ listener: StorageListener) -> Int {
        let fm = FileManager.default
        var moved = 0
        // Study folders are named by StudyInstanceUID; `rejected/` holds what the listener refused.
        for study in (try? fm.contentsOfDirectory(atPath: receiving)) ?? [] where !study.hasPrefix(".") && study != "rejected" {
            for series in (try? fm.contentsOfDirectory(atPath: "\(receiving)/\(study)")) ?? [] {
                let source = "\(receiving)/\(study)/\(series)"
                // After a restart the newest file tells when the series last grew.
                let last = state.lastArrival(series) ?? newestModification(source)
                guard Date().timeIntervalSince(last) >= options.quietSeconds else { continue }
                listener.filingLock.lock()
                let target = "\(archive)/\(study)/\(series)"
                var count = 0, grew = false
                do {
                    try fm.createDirectory(atPath: "\(archive)/\(study)", withIntermediateDirectories: true)
                    if !fm.fileExists(atPath: target) {
                        count = ((try? fm.contentsOfDirectory(atPath: source)) ?? []).count
                        try fm.moveItem(atPath: source, toPath: target)
                    } else {
                        // Late instances of a series already archived join it, and its case runs again: the
                        // mark (an empty file, which cannot be left half written) is on disk before the first
                        // instance moves, so a crash cannot lose it.
                        try fm.createDirectory(atPath: late, withIntermediateDirectories: true)
                        guard fm.createFile(atPath: "\(late)/\(series)", contents: nil) else {
                            throw ListenerError(message: "\(late)/\(series): cannot mark the series to run again")
                        }
                        grew = true
                        for name in try fm.contentsOfDirectory(atPath: source) {
                            if rename("\(source)/\(name)", "\(target)/\(name)") == 0 { count += 1 }
                        }
                        rmdir(source)
                    }
                    rmdir("\(receiving)/\(study)")
                    moved += 1
                    state.filed(series)
                    log("series \(series) complete: \(count) instance\(count == 1 ? "" : "s") filed\(grew ? " (it had been archived before: its case runs again)" : "")")
                } catch {
                    log("series \(series): cannot move it to the archive: \(error)")
                }
                listener.filingLock.unlock()
            }
        }
        return moved
    }

    private func newestModification(_ folder: String) -> Date {
        let fm = FileManager.default
        var newest = Date.distantPast
        for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] {
            if let d = (try? fm.attributesOfItem(atPath: "\(folder)/\(name)"))?[.modificationDate] as? Date, d > newest { newest = d }
        }
        return newest
    }

    /// Runs the pipeline over the archive, resuming: only cases not yet completed run, and those whose series
    /// late instances joined.
    private func process() throws {
        var runOptions = RunOptions(archive: archive, output: results)
        runOptions.jobs = options.jobs
        runOptions.resume = FileManager.default.fileExists(atPath: "\(results)/run.json")
        let grown = Set(((try? FileManager.default.contentsOfDirectory(atPath: late)) ?? []).filter { !$0.hasPrefix(".") })
        runOptions.rerunSeries = grown
        runOptions.toolVersion = toolVersion
        runOptions.commandLine = CommandLine.arguments
        var runner = Runner(spec: spec, registry: registry)
        runner.toolVersion = toolVersion
        do {
            let summary = try runner.run(runOptions, progress: ProgressReporter(style: .quiet))
            for series in grown { unlink("\(late)/\(series)") }
            let ran = summary.succeeded + summary.failed
            if ran > 0 {
                log("pipeline: \(summary.succeeded) case\(summary.succeeded == 1 ? "" : "s") done, \(summary.failed) failed (\(summary.skipped) done before); manifest \(summary.manifestPath)")
                for f in summary.failures { log("case \(f.caseID) failed: \(f.error.map { "\($0.stage): \($0.message)" } ?? "")") }
            }
        } catch let e as RunError {
            if case .noCases = e {
                for series in grown { unlink("\(late)/\(series)") }
                return
            }
            throw e
        }
    }
}

private final class NodeState: @unchecked Sendable {
    private let lock = NSLock()
    private var arrivals: [String: (last: Date, count: Int)] = [:]
    private var stopping = false
    private var ended = false

    func arrived(_ series: String) {
        lock.lock(); defer { lock.unlock() }
        let count = (arrivals[series]?.count ?? 0) + 1
        arrivals[series] = (Date(), count)
    }
    func count(_ series: String) -> Int { lock.lock(); defer { lock.unlock() }; return arrivals[series]?.count ?? 0 }
    func lastArrival(_ series: String) -> Date? { lock.lock(); defer { lock.unlock() }; return arrivals[series]?.last }
    func filed(_ series: String) { lock.lock(); arrivals[series] = nil; lock.unlock() }
    func stop() { lock.lock(); stopping = true; lock.unlock() }
    var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
    func listenerEnded() { lock.lock(); ended = true; lock.unlock() }
    var hasListenerEnded: Bool { lock.lock(); defer { lock.unlock() }; return ended }
}

private final class ListenerFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Error?
    func set(_ e: Error) { lock.lock(); value = e; lock.unlock() }
    var error: Error? { lock.lock(); defer { lock.unlock() }; return value }
}
