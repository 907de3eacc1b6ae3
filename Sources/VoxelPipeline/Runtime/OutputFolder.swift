import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// The files one run, or one shard of a run, keeps in its output folder.
///
/// An unsharded run writes `manifest.jsonl`, `run.json` and `inputs.jsonl`; shard i of n writes
/// `manifest-shard-i-of-n.jsonl`, `run-shard-i-of-n.json` and `inputs-shard-i-of-n.jsonl`, so the shards of
/// one archive can share a folder (and run at the same time) without writing each other's records. All of
/// them put finished cases under `cases/` and build them in `.partial/<run or shard>/`.
struct RunFiles {
    let output: String
    /// nil for an unsharded run, else `shard-i-of-n`.
    let tag: String?

    init(output: String, shard: (index: Int, count: Int)?) {
        self.output = output
        tag = shard.map { "shard-\($0.index)-of-\($0.count)" }
    }

    init(output: String, tag: String?) {
        self.output = output
        self.tag = tag
    }

    private func named(_ base: String, _ ext: String) -> String {
        "\(output)/\(base)\(tag.map { "-\($0)" } ?? "").\(ext)"
    }

    var manifest: String { named("manifest", "jsonl") }
    var provenance: String { named("run", "json") }
    var inventory: String { named("inputs", "jsonl") }
    var staging: String { "\(output)/.partial/\(tag ?? "run")" }
    /// Held (flock) by this run or shard while it runs; a free lock means that its process is gone.
    var liveLock: String { "\(output)/.partial/\(tag ?? "run").lock" }
    /// Serialises the start and end of the runs sharing the folder.
    var folderLock: String { "\(output)/\(RunFiles.folderLockName)" }
    static let folderLockName = ".voxelflow.lock"
    /// Entries that may be in a folder before its first run starts: the folder lock, the plan and the job
    /// scripts `voxelflow submit` writes, and the staging folder of a shard starting at the same time.
    static let preRunEntries: Set<String> = [folderLockName, RunPlan.fileName, "slurm", ".partial", pacsCacheName]
    /// The cache of a run whose archive is a PACS (`run --input URL`).
    static let pacsCacheName = RunOptions.pacsCacheName
    /// "the run" or "shard i/n", for messages.
    var label: String {
        guard let tag else { return "a run over all cases" }
        return tag.replacingOccurrences(of: "shard-", with: "shard ").replacingOccurrences(of: "-of-", with: "/")
    }
    /// The shard count, 1 for an unsharded run.
    var shardCount: Int {
        guard let tag, let n = tag.split(separator: "-").last.flatMap({ Int($0) }) else { return 1 }
        return n
    }

    /// The tag of a provenance file name (`run.json` → nil, `run-shard-2-of-4.json` → "shard-2-of-4"), or
    /// nil when the name is not a provenance file.
    static func tag(ofProvenance name: String) -> String?? {
        if name == "run.json" { return .some(nil) }
        guard name.hasPrefix("run-shard-"), name.hasSuffix(".json") else { return nil }
        let tag = String(name.dropFirst(4).dropLast(5))
        let parts = tag.split(separator: "-")
        guard parts.count == 4, parts[0] == "shard", parts[2] == "of", let i = Int(parts[1]), let n = Int(parts[3]), (1...n).contains(i) else { return nil }
        return .some(tag)
    }

    /// True for the names VoxelFlow writes in an output folder.
    static func isRunEntry(_ name: String) -> Bool {
        if ["cases", ".partial", "run.json", "manifest.jsonl", "inputs.jsonl", BatchIndex.page, BatchIndex.table, BatchReport.fileName, "pushed.jsonl"].contains(name) { return true }
        if preRunEntries.contains(name) { return true }
        if AtomicFile.isLeftover(name) { return true }  // a write cut short by a kill
        for (base, ext) in [("run", ".json"), ("manifest", ".jsonl"), ("inputs", ".jsonl")]
        where name.hasPrefix("\(base)-shard-") && name.hasSuffix(ext) {
            return true
        }
        return false
    }
}

/// A run found in an output folder: its provenance, as recorded.
struct ExistingRun {
    let files: RunFiles
    let archive: String?
    let pipelineSHA: String?
    /// The host of its latest invocation.
    let host: String?
    /// The status its provenance records ("running", "succeeded", "finished with failures", "interrupted").
    let status: String?
    /// When its latest invocation started and finished (ISO 8601), as recorded.
    let started: String?, finished: String?
    /// The `invocations` of its provenance (earlier starts and resumes).
    let invocations: [JSON]
}

/// What an output folder holds before a run starts.
struct OutputFolderState {
    let path: String
    let exists: Bool
    /// Entries that VoxelFlow does not write (a user's files): never touched.
    let foreignEntries: [String]
    /// Every entry of the folder.
    var allEntries: [String] = []
    let runs: [ExistingRun]

    /// Entries that stop a first run: anything but what `voxelflow submit` and starting shards create.
    var entriesBlockingFirstRun: [String] {
        allEntries.filter { !RunFiles.preRunEntries.contains($0) || ($0 == ".partial" && !OutputFolderState.holdsOnlyStaging("\(path)/.partial")) }
    }

    /// True when `folder` holds only staging folders and lock files.
    static func holdsOnlyStaging(_ folder: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).allSatisfy { $0 == "run" || $0.hasPrefix("shard-") || $0.hasPrefix("run.") }
    }

    static func inspect(_ path: String) -> OutputFolderState {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: path) else {
            return OutputFolderState(path: path, exists: fm.fileExists(atPath: path), foreignEntries: [], runs: [])
        }
        var runs: [ExistingRun] = []
        for name in names.sorted() {
            guard let tag = RunFiles.tag(ofProvenance: name) else { continue }
            let files = RunFiles(output: path, tag: tag)
            let node = fm.contents(atPath: files.provenance).flatMap { try? JSONParser.parse(bytes: [UInt8]($0)) }
            var invocations: [JSON] = []
            if case .array(let items)? = node?.member("invocations")?.value.value { invocations = items.map(\.json) }
            runs.append(ExistingRun(files: files, archive: node?.member("archive")?.value.string,
                                    pipelineSHA: node?.member("pipeline")?.value.member("sha256")?.value.string,
                                    host: node?.member("host")?.value.string,
                                    status: node?.member("status")?.value.string,
                                    started: node?.member("started")?.value.string,
                                    finished: node?.member("finished")?.value.string,
                                    invocations: invocations))
        }
        return OutputFolderState(path: path, exists: true, foreignEntries: names.filter { !RunFiles.isRunEntry($0) }.sorted(),
                                 allEntries: names.sorted(), runs: runs)
    }

    /// Case ids recorded as completed ("ok") in the manifest of any of `runs`: the case folders VoxelFlow
    /// wrote (a case's "ok" line is written before its folder is renamed into place; a failed case writes
    /// no folder).
    func caseIDsWritten(by runs: [ExistingRun]) -> Set<String> {
        Set(runs.flatMap { Manifest.readEntries($0.files.manifest).filter { $0.status == "ok" }.map(\.caseID) })
    }

    /// Removes what `runs` wrote and nothing else: the case folders their manifests name, their manifest,
    /// provenance and inventory files and their staging folders.
    func remove(_ runs: [ExistingRun]) throws {
        let fm = FileManager.default
        for run in runs {
            for id in caseIDsWritten(by: [run]).sorted() {
                let folder = "\(path)/cases/\(id)"
                if fm.fileExists(atPath: folder) { try fm.removeItem(atPath: folder) }
            }
            for file in [run.files.manifest, run.files.provenance, run.files.inventory, run.files.staging] where fm.fileExists(atPath: file) {
                try fm.removeItem(atPath: file)
            }
        }
        // The batch pages describe the runs removed; the next run writes its own.
        for name in [BatchIndex.page, BatchIndex.table] where fm.fileExists(atPath: "\(path)/\(name)") {
            try fm.removeItem(atPath: "\(path)/\(name)")
        }
    }
}
