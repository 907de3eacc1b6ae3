import ArgumentParser
import Foundation
import VoxelCatalog
import VoxelIO
import VoxelPipeline
import VoxelSupport

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Run a pipeline over an archive as a Slurm job array: one shard of the cases per array task.",
        discussion: """
        Checks the pipeline (as `validate`) and finds the archive's cases (as `run --dry-run`), writes \
        OUT/plan.json and the batch script OUT/slurm/job-K.sbatch, and submits it with `sbatch`. Array task i \
        runs `voxelflow run PIPELINE --input ARCHIVE --output OUT --shard i/N --resume`: the shards share OUT \
        (see `voxelflow run --help`), task logs go to OUT/slurm/logs/JOB_TASK.out, and each submission is \
        recorded in OUT/slurm/submissions.jsonl. Paths in the script are absolute; OUT and ARCHIVE must be \
        on a file system the nodes share.

        Submitting again to the same OUT runs only the shards with work left (never started, stopped by a \
        cancel or node failure, interrupted, or with missing cases; --retry-failed adds those with failed \
        cases), each resuming where it stopped, so every case runs to completion once. Shards running now, \
        or still queued from an earlier submission (squeue), are left alone. `voxelflow status OUT` follows the array; `voxelflow report OUT` summarises it.
        """
    )

    @Argument(help: "The pipeline file (JSON).")
    var pipeline: String

    @Option(name: .shortAndLong, help: "The archive folder holding the scans (on a file system the nodes share).")
    var input: String

    @Option(name: .shortAndLong, help: "The output folder (on a file system the nodes share).")
    var output: String

    @Flag(name: .long, help: "Submit to Slurm (sbatch); the only scheduler so far, required.")
    var slurm = false

    @Option(name: .long, help: "Number of shards (array tasks); default: one per case, at most 32. A re-submission keeps the first one's.")
    var array: Int?

    @Option(name: .long, help: "At most this many array tasks at once (sbatch --array=…%K).")
    var maxRunning: Int?

    @Option(name: .long, help: "CPUs per array task (sbatch --cpus-per-task); each task runs this many cases at once unless --jobs says otherwise.")
    var cpusPerTask = 1

    @Option(name: .shortAndLong, help: "Cases each task processes at the same time (default: --cpus-per-task).")
    var jobs: Int?

    @Option(name: .long, help: "Memory per task (sbatch --mem, e.g. 8G).")
    var mem: String?

    @Option(name: .long, help: "Time limit per task (sbatch --time, e.g. 02:00:00).")
    var time: String?

    @Option(name: .long, help: "Slurm partition (sbatch --partition).")
    var partition: String?

    @Option(name: .long, help: "Job name (default: voxelflow-<pipeline name>).")
    var jobName: String?

    @Option(name: .long, help: "Another #SBATCH option for the script, as sbatch takes it (e.g. --account=lab); repeatable.")
    var sbatchOption: [String] = []

    @Flag(name: .long, help: "Re-submit shards whose cases failed as well (their --resume re-runs failed cases).")
    var retryFailed = false

    @Flag(name: .long, help: "Print the script and what would be submitted; write and submit nothing.")
    var dryRun = false

    @Option(name: .long, help: "The sbatch program (default: sbatch on PATH).")
    var sbatch = "sbatch"

    @Option(name: .long, help: "The squeue program used to find shards still queued (default: squeue on PATH).")
    var squeue = "squeue"

    func validate() throws {
        guard slurm else { throw ValidationError("choose the scheduler: --slurm (the only one so far)") }
        if let array, array < 1 { throw ValidationError("--array must be at least 1") }
        if let maxRunning, maxRunning < 1 { throw ValidationError("--max-running must be at least 1") }
        if cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be at least 1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        for o in sbatchOption where o.contains("\n") || !o.hasPrefix("-") {
            throw ValidationError("--sbatch-option \(o): give one sbatch option starting with '-', on one line")
        }
    }

    func run() throws {
        let spec = try PipelineLoading.loadInference(pipeline, whatInstead: "submit its inference.json, or train with `voxelflow train`")
        let out = absolutePath(output), archive = absolutePath(input)
        var script = SlurmJobScript(executable: currentExecutable(), pipeline: absolutePath(pipeline), archive: archive, output: out,
                                    shardCount: 0, shards: [])
        script.maxRunning = maxRunning
        script.cpusPerTask = cpusPerTask
        script.jobs = jobs
        script.memory = mem
        script.time = time
        script.partition = partition
        script.extraOptions = sbatchOption
        script.jobName = jobName ?? SlurmJobScript.jobName(forPipeline: spec.name)

        // A first submission or a re-submission of the shards with work left.
        var newPlan: RunPlan?
        var caseCount = 0
        if let status = try? BatchStatus.read(output: out) {
            guard status.sharded else {
                printError("voxelflow: error: \(out) holds an unsharded run; submit into another output folder")
                throw ExitCode(ExitCodes.cannotWrite)
            }
            if let recorded = status.plan, recorded.pipelineSHA != spec.sha256 {
                printError("voxelflow: error: \(out): the pipeline file changed since the first submission (sha256 \(recorded.pipelineSHA.prefix(12))…, now \(spec.sha256.prefix(12))…); use another output folder")
                throw ExitCode(ExitCodes.badInput)
            }
            if let recorded = status.plan, recorded.archive != archive {
                printError("voxelflow: error: \(out): the first submission reads the archive \(recorded.archive), not \(archive)")
                throw ExitCode(ExitCodes.badInput)
            }
            if let array, array != status.shardCount {
                printError("voxelflow: error: \(out) is split into \(status.shardCount) shards; re-submit with --array \(status.shardCount) (or leave it out)")
                throw ExitCode(ExitCodes.badInput)
            }
            var status = status
            if let queued = SlurmQueue.queuedShards(output: out, squeue: squeue) {
                status = status.markingQueued(queued)
            } else if !SlurmSubmission.read(output: out).isEmpty {
                printError("voxelflow: warning: \(squeue) cannot be run, so shards still queued cannot be told; a shard submitted twice waits for or skips the other's work (its lock and --resume)")
            }
            script.shardCount = status.shardCount
            script.shards = status.shardsToSubmit(retryFailed: retryFailed)
            caseCount = status.cases.filter { c in script.shards.contains(c.shard) && c.state != .done && (retryFailed || c.state != .failed) }.count
            if script.shards.isEmpty {
                print("nothing to submit: every shard of \(out) has finished or is running (\(status.count(.done)) done, \(status.count(.failed)) failed, \(status.count(.running) + status.count(.pending)) in progress)"
                      + (status.count(.failed) > 0 && !retryFailed ? "; --retry-failed re-runs the failed cases" : ""))
                return
            }
        } else {
            let folder = try? FileManager.default.contentsOfDirectory(atPath: out)
            if let entries = folder?.filter({ ![RunPlan.fileName, "slurm", ".voxelflow.lock", ".partial"].contains($0) }), !entries.isEmpty {
                printError("voxelflow: error: \(RunError.outputNotARun(path: out, entries: entries.sorted()))")
                throw ExitCode(ExitCodes.cannotWrite)
            }
            let discovery: Discovery
            do {
                discovery = try CaseDiscovery.survey(spec, archive: archive)
            } catch {
                printError("voxelflow: error: \(error)")
                throw ExitCode(ExitCodes.badInput)
            }
            guard !discovery.cases.isEmpty else {
                printError("voxelflow: error: \(discovery.emptyReason ?? "\(archive): no case found")")
                throw ExitCode(ExitCodes.badInput)
            }
            let n = min(array ?? min(32, discovery.cases.count), discovery.cases.count)
            script.shardCount = n
            script.shards = Array(1...n)
            caseCount = discovery.cases.count
            newPlan = RunPlan(archive: archive, pipelineSHA: spec.sha256, shardCount: n, sharded: true, cases: discovery.cases.map(\.id))
        }

        let previous = SlurmSubmission.read(output: out)
        let scriptPath = "\(out)/slurm/job-\(previous.count + 1).sbatch"
        let what = "\(script.shards.count) of \(script.shardCount) shard\(script.shardCount == 1 ? "" : "s"), \(caseCount) case\(caseCount == 1 ? "" : "s") to run"
        if dryRun {
            print("would write \(scriptPath) and run: \(sbatch) --parsable \(scriptPath)  (\(what))")
            print(script.text, terminator: "")
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: script.logFolder, withIntermediateDirectories: true)
            if let newPlan { try newPlan.write(output: out) }
            try AtomicFile.write(Array(script.text.utf8), to: scriptPath)
        } catch {
            printError("voxelflow: error: \(out): cannot write the job script: \(error)")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        let result = runProgram(sbatch, ["--parsable", scriptPath])
        guard result.status == 0, let job = result.stdout.split(separator: "\n").last.map({ String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces) }), !job.isEmpty else {
            printError("voxelflow: error: \(sbatch) refused \(scriptPath) (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            throw ExitCode(ExitCodes.schedulerRefused)
        }
        let submission = SlurmSubmission(job: job, array: script.arraySpec, shards: script.shards, shardCount: script.shardCount,
                                         script: scriptPath, submitted: ISO8601DateFormatter().string(from: Date()))
        do {
            try submission.append(output: out)
        } catch {
            printError("voxelflow: warning: job \(job) was submitted but cannot be recorded: \(error)")
        }
        print("submitted Slurm job \(job): array \(script.arraySpec) (\(what)); follow it with: voxelflow status \(shellQuoted(out))")
    }
}
