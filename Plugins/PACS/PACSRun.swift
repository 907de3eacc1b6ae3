import Foundation
import VoxelNet
import VoxelPipeline
import VoxelSupport

/// A run whose archive is a PACS (`voxelflow run PIPELINE --input URL`): the matching series are pulled into
/// a cache folder in the background (`SeriesPull`, one series after another per job), and the pipeline runs
/// over the cache in passes while the pull goes on: each pass takes every series complete by then, with
/// `--resume` semantics, so cases run as their series arrive and the retrieval of the next series overlaps
/// the processing of the last. A pass starts when as many new series as jobs have arrived, when the pull
/// has ended, or when a new series has waited `gatherSeconds`. The runner itself only ever sees a folder.
///
/// With a cache limit, the instance files of a series are removed once every case that used it succeeded
/// (its folder stays, holding only a hidden `.processed` marker, so a resumed run neither retrieves nor runs
/// it again), and no new retrieval starts while the series waiting for a pass hold `cacheLimit` bytes or
/// more. Series of failed cases stay for `--resume` and, like series no case used, stop counting towards
/// the limit once a pass has looked at them.
public enum PACSRun {
    /// The marker left in a processed series' folder.
    public static let processedMarker = ".processed"

    /// How long a retrieved series waits for others to arrive before a pass runs it with fewer series than
    /// jobs.
    public static let gatherSeconds: TimeInterval = 1

    /// What the pull and the passes did.
    public struct Outcome: Sendable {
        public var pulled: [PullRecord]
        /// Runner passes made.
        public var passes: Int
        /// The summary of the last pass (its `skipped` are the cases of earlier passes).
        public var lastSummary: RunSummary?
        /// Series whose files were removed from the cache after their cases succeeded (with a cache limit).
        public var removedSeries = 0
        /// The most bytes of retrieved series the cache held at once, as pulls reported them.
        public var peakCacheBytes: Int64 = 0
    }

    /// Pulls `series` from `source` into `cache` and runs `runner` over it until every series has been
    /// retrieved (or failed) and processed.
    /// - Parameters:
    ///   - runOptions: the run's options; `archive` must be `cache`. `resume` applies to the first pass.
    ///   - cacheLimit: bytes of retrieved series waiting for a pass before retrieval pauses; nil: no limit, and
    ///     nothing is removed from the cache.
    ///   - log: one line per retrieved or failed series and per pass.
    /// - Throws: `PullError` when the cache cannot be used; `RunError` when the pipeline cannot run at all.
    public static func run(source: any SeriesSource, series: [RemoteSeries], cache: String, pull: PullOptions,
                           runner: Runner, runOptions: RunOptions, progress: ProgressReporter, control: RunControl,
                           cacheLimit: Int64? = nil, log: @escaping @Sendable (String) -> Void) throws -> Outcome {
        let state = PullState()
        let budget = CacheBudget(limit: cacheLimit, control: control)
        var pullOptions = pull
        if cacheLimit != nil {
            pullOptions.beforeRetrieve = { _ in budget.waitForRoom() }
        }
        let options = pullOptions
        let thread = Thread {
            do {
                let records = try SeriesPull.run(source, series: series, output: cache, options: options) { r in
                    switch r.status {
                    case .ok:
                        budget.arrived(r.folder, bytes: r.bytes)
                        state.completed()
                        log("series \(r.series.seriesUID) retrieved: \(r.instances) instances in \(String(format: "%.1f", r.seconds)) s")
                    case .skipped:
                        budget.arrived(r.folder, bytes: 0)
                        state.completed()
                    case .failed:
                        log("series \(r.series.seriesUID) failed after \(r.attempts) attempt\(r.attempts == 1 ? "" : "s"): \(r.error ?? "")")
                    }
                }
                state.finish(records, nil)
            } catch {
                state.finish([], error)
            }
        }
        thread.stackSize = 8 << 20
        thread.start()

        var outcome = Outcome(pulled: [], passes: 0, lastSummary: nil)
        var processed = 0
        while true {
            let (available, finished) = state.snapshot
            // A pass starts once it can keep every job busy (as many new series as jobs), when the pull has
            // ended, or when the oldest new series has waited `gatherSeconds`: a pass of one case while a
            // second series is a moment away would leave a job idle until that pass ends.
            let fresh = available - processed
            let waited = fresh > 0 ? Date().timeIntervalSince(state.arrival(processed)) : 0
            if fresh > 0 && (finished || fresh >= max(1, runOptions.jobs) || waited >= gatherSeconds || control.stopRequested) {
                processed = available
                let seen = budget.arrivedFolders
                var options = runOptions
                options.resume = runOptions.resume || outcome.passes > 0
                do {
                    outcome.lastSummary = try runner.run(options, progress: progress, control: control)
                    outcome.passes += 1
                } catch let e as RunError {
                    if case .noCases = e {} else {
                        budget.release()
                        state.waitForEnd()
                        throw e
                    }
                }
                if cacheLimit != nil {
                    outcome.removedSeries += removeProcessed(seen, cache: cache, output: runOptions.output, budget: budget, log: log)
                }
                if control.stopRequested { break }
            } else if finished {
                break
            } else {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        budget.release()
        state.waitForEnd()
        if let error = state.error { throw error }
        outcome.pulled = state.records
        outcome.peakCacheBytes = budget.peak
        return outcome
    }

    /// After a pass over the series in `seen` (folders relative to the cache): removes the instance files of
    /// those whose every case in the manifest succeeded, leaving the marker, and tells the budget which
    /// series the pass has looked at. Returns how many series were removed.
    static func removeProcessed(_ seen: [String], cache: String, output: String, budget: CacheBudget,
                                log: @Sendable (String) -> Void) -> Int {
        // The last manifest line of each case decides; a series is done when it fed only succeeded cases.
        var lastStatus: [String: (ok: Bool, series: [String])] = [:]
        if let data = FileManager.default.contents(atPath: "\(output)/manifest.jsonl") {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let node = try? JSONParser.parse(String(line)), let id = node.member("case")?.value.string else { continue }
                var uids: [String] = []
                if case .object(let inputs)? = node.member("inputs")?.value.value {
                    for input in inputs {
                        if let uid = input.value.member("seriesInstanceUID")?.value.string { uids.append(uid) }
                    }
                }
                lastStatus[id] = (node.member("status")?.value.string == "ok", uids)
            }
        }
        var succeeded = Set<String>(), unfinished = Set<String>()
        for (_, entry) in lastStatus {
            for uid in entry.series {
                if entry.ok { succeeded.insert(uid) } else { unfinished.insert(uid) }
            }
        }
        let fm = FileManager.default
        var removed = 0
        for folder in seen {
            let uid = (folder as NSString).lastPathComponent
            guard succeeded.contains(uid), !unfinished.contains(uid) else { continue }
            let path = "\(cache)/\(folder)"
            guard let names = try? fm.contentsOfDirectory(atPath: path), !names.contains(processedMarker) else { continue }
            // The marker first: a crash in between leaves a folder that is skipped, never one half-removed
            // and retrieved into again.
            guard fm.createFile(atPath: "\(path)/\(processedMarker)", contents: Data("processed: every case of this series succeeded\n".utf8)) else {
                log("series \(uid): cannot mark the series processed in the cache; its files stay")
                continue
            }
            for name in names where !name.hasPrefix(".") {
                try? fm.removeItem(atPath: "\(path)/\(name)")
            }
            budget.removed(folder)
            removed += 1
        }
        budget.passLooked(at: seen)
        return removed
    }
}

/// The cache's bytes of series that wait for a pass, and the pause of retrieval while they reach the limit.
final class CacheBudget: @unchecked Sendable {
    let limit: Int64?
    private let control: RunControl
    private let condition = NSCondition()
    /// Retrieved series not yet looked at by a finished pass, with their bytes.
    private var waiting: [String: Int64] = [:]
    private var all: [String] = []
    private var released = false
    private(set) var peak: Int64 = 0
    private var held: Int64 = 0

    init(limit: Int64?, control: RunControl) {
        self.limit = limit
        self.control = control
    }

    /// The folders of every series retrieved (or found in the cache) so far, in order.
    var arrivedFolders: [String] {
        condition.lock()
        defer { condition.unlock() }
        return all
    }

    func arrived(_ folder: String, bytes: Int64) {
        condition.lock()
        waiting[folder] = bytes
        all.append(folder)
        held += bytes
        peak = max(peak, held)
        condition.unlock()
    }

    func removed(_ folder: String) {
        condition.lock()
        if let bytes = waiting[folder] { held -= bytes }
        condition.unlock()
    }

    /// The series a pass looked at stop holding back retrieval (removed, kept for a failed case, or unused).
    func passLooked(at folders: [String]) {
        condition.lock()
        for f in folders { waiting[f] = nil }
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks while the series waiting for a pass hold `limit` bytes or more (and are not released).
    func waitForRoom() {
        guard let limit else { return }
        condition.lock()
        while !released && !control.stopRequested && !waiting.isEmpty && waiting.values.reduce(0, +) >= limit {
            _ = condition.wait(until: Date().addingTimeInterval(0.5))
        }
        condition.unlock()
    }

    /// Lets every waiting retrieval go (the run ends).
    func release() {
        condition.lock()
        released = true
        condition.broadcast()
        condition.unlock()
    }
}

private final class PullState: @unchecked Sendable {
    private let lock = NSCondition()
    private var available = 0
    private var arrivals: [Date] = []
    private var finished = false
    private(set) var records: [PullRecord] = []
    private(set) var error: Error?

    func completed() { lock.lock(); available += 1; arrivals.append(Date()); lock.unlock() }

    /// When the series that made `available` exceed `index` arrived.
    func arrival(_ index: Int) -> Date {
        lock.lock(); defer { lock.unlock() }
        return index < arrivals.count ? arrivals[index] : Date()
    }

    func finish(_ r: [PullRecord], _ e: Error?) {
        lock.lock()
        records = r
        error = e
        finished = true
        lock.broadcast()
        lock.unlock()
    }

    var snapshot: (Int, Bool) { lock.lock(); defer { lock.unlock() }; return (available, finished) }

    func waitForEnd() {
        lock.lock()
        while !finished { lock.wait() }
        lock.unlock()
    }
}
