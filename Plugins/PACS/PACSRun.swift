import Foundation
import VoxelNet
import VoxelPipeline

/// A run whose archive is a PACS (`voxelflow run PIPELINE --input URL`): the matching series are pulled into
/// a cache folder in the background (`SeriesPull`, one series after another per job), and the pipeline runs
/// over the cache in passes while the pull goes on: each pass takes every series complete by then, with
/// `--resume` semantics, so cases run as their series arrive and the retrieval of the next series overlaps
/// the processing of the last. The runner itself only ever sees a folder.
public enum PACSRun {
    /// What the pull and the passes did.
    public struct Outcome: Sendable {
        public var pulled: [PullRecord]
        /// Runner passes made.
        public var passes: Int
        /// The summary of the last pass (its `skipped` are the cases of earlier passes).
        public var lastSummary: RunSummary?
    }

    /// Pulls `series` from `source` into `cache` and runs `runner` over it until every series has been
    /// retrieved (or failed) and processed.
    /// - Parameters:
    ///   - runOptions: the run's options; `archive` must be `cache`. `resume` applies to the first pass.
    ///   - log: one line per retrieved or failed series and per pass.
    /// - Throws: `PullError` when the cache cannot be used; `RunError` when the pipeline cannot run at all.
    public static func run(source: any SeriesSource, series: [RemoteSeries], cache: String, pull: PullOptions,
                           runner: Runner, runOptions: RunOptions, progress: ProgressReporter, control: RunControl,
                           log: @escaping @Sendable (String) -> Void) throws -> Outcome {
        let state = PullState()
        let thread = Thread {
            do {
                let records = try SeriesPull.run(source, series: series, output: cache, options: pull) { r in
                    switch r.status {
                    case .ok:
                        state.completed()
                        log("series \(r.series.seriesUID) retrieved: \(r.instances) instances in \(String(format: "%.1f", r.seconds)) s")
                    case .skipped:
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
            if available > processed {
                processed = available
                var options = runOptions
                options.resume = runOptions.resume || outcome.passes > 0
                do {
                    outcome.lastSummary = try runner.run(options, progress: progress, control: control)
                    outcome.passes += 1
                } catch let e as RunError {
                    if case .noCases = e {} else {
                        state.waitForEnd()
                        throw e
                    }
                }
                if control.stopRequested { break }
            } else if finished {
                break
            } else {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        state.waitForEnd()
        if let error = state.error { throw error }
        outcome.pulled = state.records
        return outcome
    }
}

private final class PullState: @unchecked Sendable {
    private let lock = NSCondition()
    private var available = 0
    private var finished = false
    private(set) var records: [PullRecord] = []
    private(set) var error: Error?

    func completed() { lock.lock(); available += 1; lock.unlock() }

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
