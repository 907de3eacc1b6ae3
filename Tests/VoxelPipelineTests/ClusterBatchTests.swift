import Foundation
import Testing
import TestSupport
import VoxelPipeline
import VoxelSupport

/// Batches spread over a cluster: shards started at the same moment, `--shard auto`, the merged
/// `status` and `report`, and `submit`'s job scripts and re-submissions (with stand-ins for sbatch and
/// squeue; scripts/slurm_e2e.sh runs the same on a real Slurm).
@Suite("cluster batches: submit, shards, status and report")
struct ClusterBatchTests {
    static func setUp(count: Int) throws -> (root: String, pipeline: String) {
        let root = TestPaths.temporaryDirectory()
        try PipelineFixtures.makeArchive(root + "/archive", count: count, size: 8)
        return (root, try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: root))
    }

    static func status(_ out: String, _ extra: [String] = []) throws -> JSONNode {
        let r = PipelineFixtures.cli(["status", out, "--json", "--squeue", "/nonexistent/squeue"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONParser.parse(r.stdout)
    }

    static func int(_ node: JSONNode?, _ keys: String...) -> Int? {
        var n = node
        for k in keys { n = n?.member(k)?.value }
        if case .number(let d)? = n?.value { return Int(d) }
        return nil
    }

    static func shardState(_ status: JSONNode, _ index: Int) -> String? {
        guard case .array(let shards)? = status.member("shardStates")?.value.value, index <= shards.count else { return nil }
        return shards[index - 1].member("state")?.value.string
    }

    // MARK: shards from the environment

    @Test("--shard auto: Slurm array tasks number shards from the array's first id; indexed jobs from 0")
    func shardFromEnvironment() throws {
        let slurm = ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3", "SLURM_ARRAY_TASK_COUNT": "4"]
        #expect(try ShardEnvironment.shard(from: slurm) == (4, 4))
        let fromOne = ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_STEP": "1"]
        #expect(try ShardEnvironment.shard(from: fromOne) == (1, 8))
        #expect(try ShardEnvironment.shard(from: ["JOB_COMPLETION_INDEX": "0", "VOXELFLOW_SHARD_COUNT": "5"]) == (1, 5))
        // A stepped or listed array does not number shards; a missing count is named.
        let stepped = ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "9", "SLURM_ARRAY_TASK_COUNT": "5", "SLURM_ARRAY_TASK_STEP": "2"]
        #expect(throws: ShardEnvironmentError.self) { try ShardEnvironment.shard(from: stepped) }
        let listed = ["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "7", "SLURM_ARRAY_TASK_COUNT": "3"]
        #expect(throws: ShardEnvironmentError.self) { try ShardEnvironment.shard(from: listed) }
        do {
            _ = try ShardEnvironment.shard(from: ["JOB_COMPLETION_INDEX": "2"])
            Issue.record("no count accepted")
        } catch let e as ShardEnvironmentError {
            #expect(e.message.contains("VOXELFLOW_SHARD_COUNT"))
        }
        #expect(throws: ShardEnvironmentError.self) { try ShardEnvironment.shard(from: ["JOB_COMPLETION_INDEX": "5", "VOXELFLOW_SHARD_COUNT": "5"]) }
        #expect(throws: ShardEnvironmentError.self) { try ShardEnvironment.shard(from: ["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"]) }
        #expect(throws: ShardEnvironmentError.self) { try ShardEnvironment.shard(from: [:]) }
    }

    @Test("voxelflow run --shard auto runs the array task's shard; without an array it says what it needs")
    func runShardAuto() throws {
        let (root, pipeline) = try Self.setUp(count: 5)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        let env: [String: String?] = ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "1", "SLURM_ARRAY_TASK_COUNT": "2"]
        let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "auto"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        // Shard 2 of 2 holds the cases at odd positions of the sorted list.
        let lines = try String(contentsOfFile: out + "/manifest-shard-2-of-2.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.compactMap { try? JSONParser.parse(String($0)).member("case")?.value.string }.sorted() == ["case01", "case03"])
        let none = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/other", "--shard", "auto"],
                                        environment: ["SLURM_ARRAY_TASK_ID": nil, "JOB_COMPLETION_INDEX": nil])
        #expect(none.status == 64 && none.stderr.contains("SLURM_ARRAY_TASK_ID") && none.stderr.contains("JOB_COMPLETION_INDEX"), "\(none.stderr)")
    }

    // MARK: shards sharing a folder

    @Test("four shards started at the same moment in a new folder all run, and together equal one run")
    func simultaneousShards() throws {
        let (root, pipeline) = try Self.setUp(count: 8)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        let problems = Problems()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--jobs", "1", "--shard", "\(i + 1)/4"])
            if r.status != 0 { problems.add("shard \(i + 1): \(r.status) \(r.stderr)") }
        }
        #expect(problems.all.isEmpty, "\(problems.all)")
        #expect(PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/single", "-q"]).status == 0)
        let sharded = PipelineFixtures.tree(out + "/cases"), single = PipelineFixtures.tree(root + "/single/cases")
        #expect(sharded.count == 16 && sharded == single)
        let status = try Self.status(out)
        #expect(Self.int(status, "cases", "done") == 8)
        #expect(status.member("finished")?.value.json == .bool(true))
        // The shards leave no staging or lock files behind.
        #expect(!FileManager.default.fileExists(atPath: out + "/.partial"))
    }

    @Test("a shard whose process is alive (its lock held) is not started twice; status calls it running")
    func runningShardIsNotStartedTwice() throws {
        let (root, pipeline) = try Self.setUp(count: 4)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        for i in 1...2 {
            #expect(PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "\(i)/2"]).status == 0)
        }
        // This test process holds shard 2's lock, as a running `voxelflow run --shard 2/2` would.
        try FileManager.default.createDirectory(atPath: out + "/.partial/shard-2-of-2/case01", withIntermediateDirectories: true)
        let lock = try FileLock(path: out + "/.partial/shard-2-of-2.lock")
        #expect(try lock.tryLock())
        let again = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "2/2", "--resume"])
        #expect(again.status == 3 && again.stderr.contains("shard 2/2 is running now"), "\(again.stderr)")
        let forced = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "1/1", "--force"])
        #expect(forced.status == 3 && forced.stderr.contains("is running now"), "\(forced.stderr)")
        var status = try Self.status(out)
        #expect(Self.shardState(status, 2) == "running")
        #expect(Self.shardState(status, 1) == "succeeded")
        lock.unlock()
        status = try Self.status(out)
        #expect(Self.shardState(status, 2) == "succeeded")
        #expect(Self.int(status, "cases", "done") == 4)
    }

    @Test("status: a killed shard is stopped, its unfinished cases missing; cases of a live shard running or pending")
    func statusOfKilledShard() throws {
        let (root, pipeline) = try Self.setUp(count: 6)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        #expect(PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "1/2"]).status == 0)
        #expect(PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "2/2", "--jobs", "1"]).status == 0)
        // Make shard 2 look killed after its first case: provenance still "running", one manifest line.
        let provenance = out + "/run-shard-2-of-2.json"
        let text = try String(contentsOfFile: provenance, encoding: .utf8)
        try text.replacingOccurrences(of: "\"status\": \"succeeded\"", with: "\"status\": \"running\"").write(toFile: provenance, atomically: true, encoding: .utf8)
        let manifest = out + "/manifest-shard-2-of-2.jsonl"
        let first = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n")[0]
        try (first + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        for id in ["case03", "case05"] { try FileManager.default.removeItem(atPath: out + "/cases/" + id) }
        var status = try Self.status(out)
        #expect(Self.shardState(status, 2) == "stopped")
        #expect(Self.int(status, "cases", "done") == 4 && Self.int(status, "cases", "missing") == 2)
        let text2 = PipelineFixtures.cli(["status", out, "--squeue", "/nonexistent/squeue"])
        #expect(text2.stdout.contains("shard 2/2") && text2.stdout.contains("stopped") && text2.stdout.contains("missing: case03, case05"), "\(text2.stdout)")
        // Alive again (lock held), working on case03.
        try FileManager.default.createDirectory(atPath: out + "/.partial/shard-2-of-2/case03", withIntermediateDirectories: true)
        let lock = try FileLock(path: out + "/.partial/shard-2-of-2.lock")
        #expect(try lock.tryLock())
        status = try Self.status(out)
        #expect(Self.shardState(status, 2) == "running")
        #expect(Self.int(status, "cases", "running") == 1 && Self.int(status, "cases", "pending") == 1 && Self.int(status, "cases", "missing") == 0)
        lock.unlock()
        // A resume finishes it.
        #expect(PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "2/2", "--resume"]).status == 0)
        status = try Self.status(out)
        #expect(Self.int(status, "cases", "done") == 6 && status.member("finished")?.value.json == .bool(true))
    }

    @Test("status of a folder that holds no run is an error naming it")
    func statusOfForeignFolder() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let r = PipelineFixtures.cli(["status", root])
        #expect(r.status == 2 && r.stderr.contains("holds no VoxelFlow run"), "\(r.stderr)")
    }

    // MARK: report

    @Test("report merges every shard: counts, failures with their stage, stage seconds as numpy's percentiles")
    func reportMergesShards() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 5, corrupt: [2], size: 8)
        let pipeline = try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: root)
        let out = root + "/out"
        for i in 1...2 {
            let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--shard", "\(i)/2"])
            #expect(r.status == (i == 1 ? 4 : 0), "\(r.stderr)")
        }
        let r = PipelineFixtures.cli(["report", out])
        #expect(r.status == 0, "\(r.stderr)")
        let batch = try JSONParser.parse(String(contentsOfFile: out + "/batch.json", encoding: .utf8))
        #expect(Self.int(batch, "cases", "done") == 4 && Self.int(batch, "cases", "failed") == 1 && Self.int(batch, "cases", "total") == 5)
        guard case .array(let failures)? = batch.member("failures")?.value.value, failures.count == 1 else { Issue.record("failures"); return }
        #expect(failures[0].member("case")?.value.string == "case02")
        #expect(failures[0].member("error")?.value.string?.hasPrefix("input:ct:") == true, "\(failures[0].json)")
        // The stage figures are those of the manifests' timings (numpy's linear percentiles).
        var seconds: [Double] = []
        for i in 1...2 {
            for line in try String(contentsOfFile: out + "/manifest-shard-\(i)-of-2.jsonl", encoding: .utf8).split(separator: "\n") {
                let node = try JSONParser.parse(String(line))
                guard node.member("status")?.value.string == "ok", case .array(let t)? = node.member("timings")?.value.value else { continue }
                for s in t where s.member("stage")?.value.string == "stats" {
                    if case .number(let v)? = s.member("seconds")?.value.value { seconds.append(v) }
                }
            }
        }
        seconds.sort()
        #expect(seconds.count == 4)
        guard case .array(let stages)? = batch.member("stages")?.value.value,
              let stats = stages.first(where: { $0.member("stage")?.value.string == "stats" }),
              case .number(let median)? = stats.member("medianSeconds")?.value.value,
              case .number(let p95)? = stats.member("p95Seconds")?.value.value else { Issue.record("no stats stage"); return }
        // numpy.percentile(x, 50) and (x, 95) for four sorted values.
        #expect(abs(median - (seconds[1] + seconds[2]) / 2) < 2e-6)
        #expect(abs(p95 - (seconds[2] + 0.85 * (seconds[3] - seconds[2]))) < 2e-6)
        #expect(r.stdout.contains("failed: case02"), "\(r.stdout)")
    }

    // MARK: submit

    /// A stand-in for sbatch that records its arguments and the script, and answers a job id.
    static func fakeScheduler(in root: String, job: String, queued: [String] = []) throws -> (sbatch: String, squeue: String) {
        let sbatch = root + "/fake-sbatch-\(job)", squeue = root + "/fake-squeue-\(job)"
        try """
        #!/bin/sh
        echo "$@" >> "\(root)/sbatch-calls.txt"
        cp "$2" "\(root)/last-script.sh"
        echo "\(job);cluster"
        """.write(toFile: sbatch, atomically: true, encoding: .utf8)
        try "#!/bin/sh\n\(queued.map { "echo \($0)" }.joined(separator: "\n"))\n".write(toFile: squeue, atomically: true, encoding: .utf8)
        chmod(sbatch, 0o755)
        chmod(squeue, 0o755)
        return (sbatch, squeue)
    }

    /// Runs array task `task` of a job script as Slurm would (its `exec` line, with SLURM_ARRAY_TASK_ID).
    static func runTask(_ script: String, task: Int) -> Subprocess.Result {
        Subprocess.run(["/bin/bash", script], environment: ["SLURM_ARRAY_TASK_ID": "\(task)"])
    }

    @Test("submit writes the plan and a job script whose tasks are the shards; a re-submission runs only the shards left")
    func submitAndResubmit() throws {
        let (root, pipeline) = try Self.setUp(count: 6)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        let fake = try Self.fakeScheduler(in: root, job: "4242")
        let args = ["submit", pipeline, "-i", root + "/archive", "-o", out, "--slurm", "--array", "3", "--cpus-per-task", "2",
                    "--mem", "4G", "--sbatch-option=--account=lab", "--sbatch", fake.sbatch, "--squeue", fake.squeue]
        let first = PipelineFixtures.cli(args)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("submitted Slurm job 4242: array 1-3 (3 of 3 shards, 6 cases to run)"), "\(first.stdout)")
        let script = try String(contentsOfFile: out + "/slurm/job-1.sbatch", encoding: .utf8)
        #expect(script.contains("#SBATCH --array=1-3\n") && script.contains("#SBATCH --cpus-per-task=2\n") && script.contains("#SBATCH --mem=4G\n")
                && script.contains("#SBATCH --account=lab\n") && script.contains("#SBATCH --output=\(out)/slurm/logs/%A_%a.out"), "\(script)")
        #expect(script.contains(#"--shard "${SLURM_ARRAY_TASK_ID}/3" --resume --jobs 2"#), "\(script)")
        #expect(try String(contentsOfFile: root + "/sbatch-calls.txt", encoding: .utf8) == "--parsable \(out)/slurm/job-1.sbatch\n")
        let plan = try #require(RunPlan.read(output: out))
        #expect(plan.shardCount == 3 && plan.sharded && plan.cases == (0..<6).map { String(format: "case%02d", $0) })
        var status = try Self.status(out)
        #expect(Self.int(status, "cases", "missing") == 6 && Self.shardState(status, 1) == "not started")

        // Slurm runs tasks 1 and 3; task 2 never runs (its node failed before it started).
        #expect(Self.runTask(out + "/slurm/job-1.sbatch", task: 1).status == 0)
        #expect(Self.runTask(out + "/slurm/job-1.sbatch", task: 3).status == 0)
        status = try Self.status(out)
        #expect(Self.int(status, "cases", "done") == 4 && Self.int(status, "cases", "missing") == 2)

        // While squeue still lists task 2, nothing is submitted again; status calls it queued.
        let queuedFake = try Self.fakeScheduler(in: root, job: "4243", queued: ["4242_2"])
        let queuedStatus = PipelineFixtures.cli(["status", out, "--json", "--squeue", queuedFake.squeue])
        let q = try JSONParser.parse(queuedStatus.stdout)
        #expect(Self.shardState(q, 2) == "queued" && Self.int(q, "cases", "pending") == 2, "\(queuedStatus.stdout)")
        let whileQueued = PipelineFixtures.cli(args.dropLast(4) + ["--sbatch", queuedFake.sbatch, "--squeue", queuedFake.squeue])
        #expect(whileQueued.status == 0 && whileQueued.stdout.contains("nothing to submit"), "\(whileQueued.stdout) \(whileQueued.stderr)")

        // Gone from the queue: the re-submission runs shard 2 only, with the same shard count.
        let again = PipelineFixtures.cli(args)
        #expect(again.status == 0 && again.stdout.contains("array 2 (1 of 3 shards, 2 cases to run)"), "\(again.stdout) \(again.stderr)")
        let second = try String(contentsOfFile: out + "/slurm/job-2.sbatch", encoding: .utf8)
        #expect(second.contains("#SBATCH --array=2\n") && second.contains(#"--shard "${SLURM_ARRAY_TASK_ID}/3""#))
        #expect(SlurmSubmission.read(output: out).map(\.shards) == [[1, 2, 3], [2]])
        #expect(Self.runTask(out + "/slurm/job-2.sbatch", task: 2).status == 0)
        status = try Self.status(out)
        #expect(Self.int(status, "cases", "done") == 6 && status.member("finished")?.value.json == .bool(true))
        let done = PipelineFixtures.cli(args)
        #expect(done.status == 0 && done.stdout.contains("nothing to submit"))
        // Another shard count for the same folder is refused.
        let other = PipelineFixtures.cli(args.map { $0 == "3" ? "2" : $0 })
        #expect(other.status == 2 && other.stderr.contains("split into 3 shards"), "\(other.stderr)")
    }

    @Test("submit refuses a folder of someone else's files, a scheduler that refuses, and writes nothing on --dry-run")
    func submitRefusals() throws {
        let (root, pipeline) = try Self.setUp(count: 2)
        defer { TestPaths.removeTree(root) }
        let foreign = root + "/mine"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try "notes".write(toFile: foreign + "/notes.txt", atomically: true, encoding: .utf8)
        let r = PipelineFixtures.cli(["submit", pipeline, "-i", root + "/archive", "-o", foreign, "--slurm", "--dry-run"])
        #expect(r.status == 3 && r.stderr.contains("holds no VoxelFlow run"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign) == ["notes.txt"])

        let dry = PipelineFixtures.cli(["submit", pipeline, "-i", root + "/archive", "-o", root + "/out", "--slurm", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("#SBATCH --array=1-2") && dry.stdout.contains("(2 of 2 shards, 2 cases to run)"), "\(dry.stdout)")
        #expect(!FileManager.default.fileExists(atPath: root + "/out"))

        let refusing = root + "/refusing-sbatch"
        try "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\nexit 1\n".write(toFile: refusing, atomically: true, encoding: .utf8)
        chmod(refusing, 0o755)
        let refused = PipelineFixtures.cli(["submit", pipeline, "-i", root + "/archive", "-o", root + "/out", "--slurm", "--sbatch", refusing])
        #expect(refused.status == 5 && refused.stderr.contains("Invalid partition name"), "\(refused.stderr)")
        #expect(SlurmSubmission.read(output: root + "/out").isEmpty)

        let noScheduler = PipelineFixtures.cli(["submit", pipeline, "-i", root + "/archive", "-o", root + "/out2"])
        #expect(noScheduler.status == 64 && noScheduler.stderr.contains("--slurm"))
    }

    @Test("job script: the array of the shards left is compressed into ranges, with the task limit")
    func arraySpec() {
        var s = SlurmJobScript(executable: "/opt/vf/voxelflow", pipeline: "/data/p q.json", archive: "/data/in", output: "/data/out", shardCount: 9, shards: [7, 2, 3, 4, 9])
        #expect(s.arraySpec == "2-4,7,9")
        s.maxRunning = 2
        #expect(s.arraySpec == "2-4,7,9%2")
        #expect(s.text.contains("exec /opt/vf/voxelflow run '/data/p q.json' --input /data/in --output /data/out --shard \"${SLURM_ARRAY_TASK_ID}/9\" --resume --jobs 1"))
        #expect(SlurmJobScript.jobName(forPipeline: "CT bone (v2)") == "voxelflow-CT-bone--v2-")
    }
}

/// Messages gathered from concurrent work.
private final class Problems: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
