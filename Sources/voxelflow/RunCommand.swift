import Foundation
import VoxelCore
import ArgumentParser
import VoxelCatalog
import VoxelPipeline
import VoxelSupport
import VoxelNet
import PACSPlugin

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline over every case of an archive folder.",
        discussion: """
        The pipeline is checked first (as `validate`); nothing is read or written when it has problems. \
        Cases are found in ARCHIVE (each DICOM series, or each set of NIfTI files sharing a key) and \
        processed --jobs at a time. A failing case never stops the others.

        Output folder:
          OUT/cases/<case id>/...   the files written by the pipeline's writer stages
          OUT/manifest.jsonl        one line per case: inputs, status, outputs, timings, warnings, error
          OUT/run.json              provenance: pipeline SHA-256, tool version, seed, archive, host, times
        A case's files appear only when all its stages succeeded (built in OUT/.partial, then renamed); \
        after a crash or kill, --resume skips completed cases and redoes the rest. Case ids are sanitised \
        (letters, digits, '-', '_', '.'): no identifier from a scan can name a path outside OUT. Patient \
        names and birth dates are never written to the log or the manifest.

        Same pipeline, inputs and seed give byte-identical files under OUT/cases (run.json and the \
        manifest's timings differ).

        The output folder must be new, empty, or hold a VoxelFlow run; a folder with other files is refused, \
        and VoxelFlow never removes or replaces a file it did not write (--force removes only the earlier \
        run's case folders and records). OUT/inputs.jsonl lists every file of the archive and what became of \
        it (used by which case, non-image, unreadable and why, filtered by which rule, duplicate of which).

        Shards: the n shards of one archive (--shard i/n) may share an output folder and run at the same \
        time; each keeps its own manifest-shard-i-of-n.jsonl, run-shard-i-of-n.json and \
        inputs-shard-i-of-n.jsonl, and cases/ holds the cases of all of them. A shard resumes with --resume \
        and the same --shard. A folder holding an unsharded run, or shards of another count, is refused, and \
        so is a second process for a shard that is running now. --shard auto takes the shard from a Slurm \
        array task (SLURM_ARRAY_TASK_ID, _MIN and _COUNT: a contiguous array such as --array=1-8) or a \
        Kubernetes indexed job (JOB_COMPLETION_INDEX, with VOXELFLOW_SHARD_COUNT set to its completions). \
        `voxelflow submit` writes and submits such an array; `voxelflow status` and `voxelflow report` \
        merge the shards.

        A PACS as input (--input https://…/dicom-web or dimse://AE@host:port, with the filters and \
        connection options of `voxelflow pull`): the matching series are pulled into OUT/pacs/ in the \
        background while the pipeline runs in passes over what has arrived, so cases run as their series \
        complete; OUT/pacs/pull.jsonl records each series, and --resume continues both the pull and the run. \
        --cache-limit 20G bounds the cache: a series' files are removed once every case that used it \
        succeeded, and no retrieval starts while the series waiting for a pass hold 20 GB or more.

        Ctrl-C (SIGINT) or SIGTERM: the cases in flight finish, no new case starts, the run is recorded as \
        "interrupted" and the command to resume it is printed; a second Ctrl-C abandons the cases in flight.

        \(ExitCodes.runHelp)
        """
    )

    @Argument(help: "The pipeline file (JSON).")
    var pipeline: String

    @Option(name: .shortAndLong, help: "The archive folder holding the scans, or a PACS: a DICOMweb service root (https://…/dicom-web) or dimse://AE@host:port.")
    var input: String

    @Option(name: .shortAndLong, help: "The output folder (created when missing).")
    var output: String

    @Option(name: .shortAndLong, help: "Cases processed at the same time (default: one per core, at most one per 3 GiB of memory).")
    var jobs: Int?

    @Flag(name: .long, help: "Continue an interrupted run: skip completed cases, redo the rest.")
    var resume = false

    @Flag(name: .long, help: "Start over in an output folder that already holds a run (its results are removed).")
    var force = false

    @Option(name: .long, help: "Run only part i of n of the cases (e.g. 2/4; 'auto' reads a Slurm array task or Kubernetes indexed job); the n parts cover every case exactly once.")
    var shard: String?

    @Flag(name: .long, help: "List the cases and the files each would write, without reading scans or writing anything.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Print only failures and errors.")
    var quiet = false

    @OptionGroup(title: "When --input is a PACS")
    var pacs: PACSSourceOptions

    @Option(name: .long, help: "With a PACS as input: remove a series' files from OUT/pacs once its cases succeeded, and pause retrieval while the series waiting to run hold this many bytes (e.g. 20G; K, M, G are powers of 1000).")
    var cacheLimit: String?

    func parsedShard() throws -> (Int, Int)? {
        guard let shard else { return nil }
        if shard == "auto" {
            do {
                let s = try ShardEnvironment.shard(from: ProcessInfo.processInfo.environment)
                return (s.index, s.count)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let parts = shard.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw ValidationError("--shard must be i/n with 1 ≤ i ≤ n, e.g. 1/4, or auto")
        }
        return (i, n)
    }

    func validate() throws {
        _ = try parsedShard()
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if resume && force { throw ValidationError("--resume and --force contradict each other") }
        if let cacheLimit {
            guard PACSOptions.parseRate(cacheLimit) != nil else { throw ValidationError("--cache-limit \(cacheLimit): give bytes, e.g. 500M, 20G") }
            guard PACSSourceOptions.isPACSAddress(input) else { throw ValidationError("--cache-limit applies when --input is a PACS (https://… or dimse://…)") }
        }
        if PACSSourceOptions.isPACSAddress(input) && (shard != nil || dryRun) {
            throw ValidationError("--shard and --dry-run take an archive folder; pull the series first (voxelflow pull) to shard them or list the cases")
        }
    }

    func run() throws {
        let registry = StageCatalog.registry
        let spec = try PipelineLoading.loadInference(pipeline, whatInstead: "train with `voxelflow train`, then run the inference.json it writes")
        var options = RunOptions(archive: PACSSourceOptions.isPACSAddress(input) ? "\(output)/\(RunOptions.pacsCacheName)" : input, output: output)
        if let jobs { options.jobs = jobs }
        options.resume = resume
        options.force = force
        options.dryRun = dryRun
        if let (i, n) = try parsedShard() { options.shard = (i, n) }
        options.commandLine = CommandLine.arguments
        options.pipelinePath = absolutePath(pipeline)
        options.toolVersion = VoxelFlowVersion.string

        let control = RunControl()
        let signals = InterruptHandler(control: control)
        if PACSSourceOptions.isPACSAddress(input) {
            try runFromPACS(spec: spec, registry: registry, options: options, control: control)
            signals.stop()
            return
        }
        let summary: RunSummary
        do {
            var runner = Runner(spec: spec, registry: registry)
            runner.toolVersion = VoxelFlowVersion.string
            summary = try runner.run(options, progress: ProgressReporter(style: quiet ? .quiet : .automatic), control: control)
        } catch {
            throw ExitCodes.fail(error)
        }
        signals.stop()
        if dryRun {
            print("\(summary.plan.count) case\(summary.plan.count == 1 ? "" : "s") would run" + (summary.skipped > 0 ? " (\(summary.skipped) already complete)" : ""))
            for p in summary.plan {
                print("  \(p.caseID)" + (p.problem.map { "  (will fail: \($0))" } ?? ""))
                for o in p.outputs { print("    \(output)/\(o)") }
            }
            print("files: " + summary.inventoryCounts.map { "\($0.count) \($0.status)" }.joined(separator: ", "))
            return
        }
        if !quiet || summary.failed > 0 || summary.interrupted {
            let time = String(format: "%.1f", summary.seconds)
            print("\(summary.total) case\(summary.total == 1 ? "" : "s"): \(summary.succeeded) succeeded, \(summary.failed) failed, \(summary.skipped) skipped (already complete)"
                  + (summary.notStarted > 0 ? ", \(summary.notStarted) not started" : "") + " in \(time) s")
            print("files: " + summary.inventoryCounts.map { "\($0.count) \($0.status)" }.joined(separator: ", ") + " (see \(summary.inventoryPath))")
            for k in summary.warnings.kinds {
                let shown = k.cases.prefix(5).joined(separator: ", ") + (k.cases.count > 5 ? ", …" : "")
                print("warnings: \(k.count) \(k.name) in \(k.cases.count) case\(k.cases.count == 1 ? "" : "s") (\(shown))")
            }
            print("manifest: \(summary.manifestPath)")
        }
        if summary.interrupted {
            var resume = ["voxelflow", "run", pipeline, "--input", input, "--output", output, "--resume"]
            if let (i, n) = try parsedShard() { resume += ["--shard", "\(i)/\(n)"] }
            printError("voxelflow: interrupted: \(summary.notStarted) case(s) not started; the finished ones are kept. Continue with:\n  \(resume.map(shellQuoted).joined(separator: " "))")
            throw ExitCode(ExitCodes.interrupted)
        }
        if summary.failed > 0 { throw ExitCode(ExitCodes.casesFailed) }
    }


    /// `--input` is a PACS: pull in the background, run in passes over what has arrived.
    func runFromPACS(spec: PipelineSpec, registry: StageRegistry, options: RunOptions, control: RunControl) throws {
        let started = Date()
        let client: any SeriesSource
        let query: SeriesQuery
        let series: [RemoteSeries]
        do {
            (client, query) = try pacs.client(url: input, parallel: 2)
            series = try client.searchSeries(query)
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        guard !series.isEmpty else {
            printError("voxelflow: error: \(client.name): no series matches the filters")
            throw ExitCode(ExitCodes.badInput)
        }
        let cache = options.archive
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        if !entries.isEmpty && !resume && !force {
            printError("voxelflow: error: \(output) is not empty; use --resume to continue the run from the PACS there, or a new output folder")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        do {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        } catch {
            printError("voxelflow: error: \(cache): cannot create the cache: \(error)")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        var pull = PullOptions()
        pull.resume = true  // series already in the cache (an earlier run) are not retrieved again
        if !quiet { print("\(series.count) series match at \(client.name); retrieving into \(cache) while the pipeline runs") }
        var runner = Runner(spec: spec, registry: registry)
        runner.toolVersion = VoxelFlowVersion.string
        let quiet = self.quiet
        let outcome: PACSRun.Outcome
        do {
            outcome = try PACSRun.run(source: client, series: series, cache: cache, pull: pull, runner: runner, runOptions: options,
                                      progress: ProgressReporter(style: quiet ? .quiet : .automatic), control: control,
                                      cacheLimit: cacheLimit.flatMap(PACSOptions.parseRate)) { line in
                if !quiet || line.contains("failed") { print(line) }
            }
        } catch {
            throw ExitCodes.fail(error)
        }
        let status = try? BatchStatus.read(output: output)
        let failedSeries = outcome.pulled.filter { $0.status == .failed }.count
        let done = status?.count(.done) ?? 0, failedCases = status?.count(.failed) ?? 0
        print("\(series.count) series: \(series.count - failedSeries) retrieved, \(failedSeries) failed; \(done) case\(done == 1 ? "" : "s") done, \(failedCases) failed, in \(outcome.passes) pass\(outcome.passes == 1 ? "" : "es"), "
              + String(format: "%.1f s", Date().timeIntervalSince(started)) + "; manifest: \(output)/manifest.jsonl")
        if cacheLimit != nil && !quiet {
            print("cache: at most \(String(format: "%.1f", Double(outcome.peakCacheBytes) / 1e6)) MB held; \(outcome.removedSeries) processed series removed from \(cache)")
        }
        if control.stopRequested {
            printError("voxelflow: interrupted; continue with --resume")
            throw ExitCode(ExitCodes.interrupted)
        }
        if failedSeries > 0 || failedCases > 0 { throw ExitCode(ExitCodes.casesFailed) }
    }
}
