import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// A batch never loses a user's file, accounts for every input, and records what happened — through the
/// command line, as a user runs it.
@Suite("voxelflow run: batches you can trust")
struct BatchSafetyTests {
    /// An archive of `count` tiny cases and the statistics pipeline, in a fresh folder.
    static func setUp(count: Int = 3, corrupt: Set<Int> = []) throws -> (root: String, pipeline: String) {
        let root = TestPaths.temporaryDirectory()
        try PipelineFixtures.makeArchive(root + "/archive", count: count, corrupt: corrupt, size: 8)
        return (root, try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: root))
    }

    static func run(_ pipeline: String, _ archive: String, _ out: String, _ extra: [String] = []) -> Subprocess.Result {
        PipelineFixtures.cli(["run", pipeline, "-i", archive, "-o", out, "-q"] + extra)
    }

    @Test("an output folder with files that is not a VoxelFlow run is refused; nothing in it is touched")
    func refusesForeignFolder() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        try FileManager.default.createDirectory(atPath: out + "/cases/case00", withIntermediateDirectories: true)
        try "my notes".write(toFile: out + "/cases/case00/notes.txt", atomically: true, encoding: .utf8)
        let before = PipelineFixtures.tree(out)
        let r = Self.run(pipeline, root + "/archive", out)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("holds no VoxelFlow run"), "\(r.stderr)")
        #expect(PipelineFixtures.tree(out) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["cases"])
    }

    @Test("--force removes only what the earlier run wrote: a user's files and folders beside it stay")
    func forceKeepsUserFiles() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        #expect(Self.run(pipeline, root + "/archive", out).status == 0)
        try "kept".write(toFile: out + "/README.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: out + "/cases/my-own", withIntermediateDirectories: true)
        try "kept".write(toFile: out + "/cases/my-own/file.txt", atomically: true, encoding: .utf8)
        let again = Self.run(pipeline, root + "/archive", out)
        #expect(again.status == 3 && again.stderr.contains("--resume"), "\(again.stderr)")
        let forced = Self.run(pipeline, root + "/archive", out, ["--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect((try? String(contentsOfFile: out + "/README.txt", encoding: .utf8)) == "kept")
        #expect((try? String(contentsOfFile: out + "/cases/my-own/file.txt", encoding: .utf8)) == "kept")
        #expect(try PipelineFixtures.manifest(out).count == 3)
    }

    @Test("a case folder that no run wrote is never replaced: that case fails and says so")
    func neverReplacesForeignCaseFolder() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        // A run with one corrupt case, then the user puts their own folder where that case would go.
        try PipelineFixtures.makeArchive(root + "/archive", count: 3, corrupt: [1], size: 8)
        #expect(Self.run(pipeline, root + "/archive", out).status == 4)
        try FileManager.default.createDirectory(atPath: out + "/cases/case01", withIntermediateDirectories: true)
        try "mine".write(toFile: out + "/cases/case01/mine.txt", atomically: true, encoding: .utf8)
        try PipelineFixtures.makeArchive(root + "/archive", count: 3, size: 8)  // repaired
        let r = Self.run(pipeline, root + "/archive", out, ["--resume"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("case01") && r.stderr.contains("no VoxelFlow run in this folder wrote it"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/cases/case01") == ["mine.txt"])
    }

    @Test("--resume with another archive is refused and run.json is left as it was")
    func resumeRefusesOtherArchive() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        #expect(Self.run(pipeline, root + "/archive", out).status == 0)
        try PipelineFixtures.makeArchive(root + "/other", count: 2, size: 8)
        let before = FileManager.default.contents(atPath: out + "/run.json")
        let r = Self.run(pipeline, root + "/other", out, ["--resume"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("reads the archive") && r.stderr.contains("/archive"), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: out + "/run.json") == before)
    }

    @Test("run.json keeps every invocation: the first run and each resume")
    func provenanceHistory() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        #expect(Self.run(pipeline, root + "/archive", out).status == 0)
        #expect(Self.run(pipeline, root + "/archive", out, ["--resume"]).status == 0)
        #expect(Self.run(pipeline, root + "/archive", out, ["--resume", "--jobs", "1"]).status == 0)
        let node = try JSONParser.parse(String(contentsOfFile: out + "/run.json", encoding: .utf8))
        guard case .array(let invocations)? = node.member("invocations")?.value.value else { Issue.record("no invocations"); return }
        #expect(invocations.count == 3)
        #expect(invocations.map { $0.member("resumed")?.value.json } == [.bool(false), .bool(true), .bool(true)])
        #expect(invocations.allSatisfy { $0.member("status")?.value.string == "succeeded" })
        #expect(node.member("status")?.value.string == "succeeded")
    }

    @Test("shards share one folder without --resume, each with its own records; a differently split run is refused")
    func shardsShareAFolder() throws {
        let (root, pipeline) = try Self.setUp(count: 5)
        defer { TestPaths.removeTree(root) }
        let out = root + "/out"
        for i in 1...3 {
            let r = Self.run(pipeline, root + "/archive", out, ["--shard", "\(i)/3"])
            #expect(r.status == 0, "shard \(i): \(r.stderr)")
        }
        let fm = FileManager.default
        for i in 1...3 {
            #expect(fm.fileExists(atPath: out + "/run-shard-\(i)-of-3.json"))
            #expect(fm.fileExists(atPath: out + "/manifest-shard-\(i)-of-3.jsonl"))
        }
        #expect(!fm.fileExists(atPath: out + "/run.json"))
        #expect(try fm.contentsOfDirectory(atPath: out + "/cases").sorted() == (0..<5).map { String(format: "case%02d", $0) })
        let again = Self.run(pipeline, root + "/archive", out, ["--shard", "2/3"])
        #expect(again.status == 3 && again.stderr.contains("run-shard-2-of-3.json"), "\(again.stderr)")
        #expect(Self.run(pipeline, root + "/archive", out, ["--shard", "2/3", "--resume"]).status == 0)
        let other = Self.run(pipeline, root + "/archive", out, ["--shard", "1/2"])
        #expect(other.status == 3 && other.stderr.contains("cover the cases differently"), "\(other.stderr)")
        let whole = Self.run(pipeline, root + "/archive", out)
        #expect(whole.status == 3, "\(whole.stderr)")
        try PipelineFixtures.makeArchive(root + "/other", count: 5, size: 8)
        let mixed = Self.run(pipeline, root + "/other", out, ["--shard", "3/3", "--force"])
        #expect(mixed.status == 2 && mixed.stderr.contains("reads the archive"), "\(mixed.stderr)")
    }

    @Test("SIGINT: the cases in flight finish, run.json says interrupted, the resume command is printed, --resume completes")
    func interruptAndResume() throws {
        let (root, _) = try Self.setUp(count: 12)
        defer { TestPaths.removeTree(root) }
        let pipeline = try PipelineFixtures.writeSlowPipeline(in: root, seconds: 0.3)
        let out = root + "/out"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.voxelflowExecutable)
        process.arguments = ["run", pipeline, "-i", root + "/archive", "-o", out, "-q", "--jobs", "2"]
        let errPipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errPipe
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let done = (try? String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
            if done >= 2 { break }
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stderr = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("interrupted") && stderr.contains("--resume"), "\(stderr)")
        let node = try JSONParser.parse(String(contentsOfFile: out + "/run.json", encoding: .utf8))
        #expect(node.member("status")?.value.string == "interrupted")
        let finished = try PipelineFixtures.manifest(out)
        #expect(finished.count >= 2 && finished.count < 12, "the interrupt should land mid-run")
        #expect(finished.allSatisfy { $0.member("status")?.value.string == "ok" }, "cases in flight finish, none is abandoned")
        #expect(!TestPaths.exists(out + "/.partial"))
        let resumed = Self.run(pipeline, root + "/archive", out, ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try PipelineFixtures.manifest(out).count == 12)
    }

    @Test("zero cases is not success: a pattern that matches nothing exits 2 with the reason")
    func zeroCases() throws {
        let (root, pipeline) = try Self.setUp()
        defer { TestPaths.removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        let r = Self.run(pipeline, root + "/empty", root + "/out")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("no case") && r.stderr.contains("images/*.nii.gz"), "\(r.stderr)")
        #expect(!TestPaths.exists(root + "/out"))
        let dicom = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json", "-i", root + "/archive", "-o", root + "/out2"])
        #expect(dicom.status == 2 && dicom.stderr.contains("file(s) scanned"), "\(dicom.stderr)")
    }

    @Test("a load failure names the input that failed, not the first stage that used it")
    func loadFailureNamesInput() throws {
        let (root, pipeline) = try Self.setUp(count: 2, corrupt: [1])
        defer { TestPaths.removeTree(root) }
        #expect(Self.run(pipeline, root + "/archive", root + "/out").status == 4)
        let failed = try PipelineFixtures.manifest(root + "/out").first { $0.member("status")?.value.string == "failed" }
        #expect(failed?.member("error")?.value.member("stage")?.value.string == "input:ct")
        #expect(failed?.member("error")?.value.member("message")?.value.string?.contains("case01.nii.gz") == true)
    }

    @Test("inputs.jsonl accounts for every file of a messy DICOM archive exactly once")
    func inventoryAccountsForEveryFile() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let archive = root + "/archive"
        let fm = FileManager.default
        try fm.createDirectory(atPath: archive + "/series", withIntermediateDirectories: true)
        let source = TestPaths.sampleData + "/dicom/ct_head_implicit"
        for f in try fm.contentsOfDirectory(atPath: source).sorted() { try fm.copyItem(atPath: "\(source)/\(f)", toPath: "\(archive)/series/\(f)") }
        try fm.copyItem(atPath: TestPaths.sampleData + "/dicom/CT_small.dcm", toPath: archive + "/small.dcm")
        try "not dicom".write(toFile: archive + "/notes.txt", atomically: true, encoding: .utf8)
        fm.createFile(atPath: archive + "/series/empty.dcm", contents: Data())
        let pipeline = try PipelineFixtures.writePipeline("""
        { "voxelflow": 1, "name": "select", "inputs": { "ct": { "type": "dicom-series", "select": { "slices": [2, 5000] } } },
          "stages": [ { "id": "report", "type": "write-report" } ] }
        """, in: root)
        let r = PipelineFixtures.cli(["run", pipeline, "-i", archive, "-o", root + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("files: 1 filtered, 2 unreadable, 16 used"), "\(r.stdout)")
        let lines = try String(contentsOfFile: root + "/out/inputs.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        var byFile: [String: JSONNode] = [:]
        for l in lines { if let f = l.member("file")?.value.string { #expect(byFile[f] == nil, "\(f) listed twice"); byFile[f] = l } }
        let all = try DICOMScanner.listFiles(archive).map { String($0.dropFirst(archive.count + 1)) }
        #expect(Set(byFile.keys) == Set(all))
        #expect(byFile["small.dcm"]?.member("status")?.value.string == "filtered")
        #expect(byFile["small.dcm"]?.member("reason")?.value.string?.contains("select.slices 1 is outside 2…5000") == true)
        #expect(byFile["notes.txt"]?.member("status")?.value.string == "unreadable")
        #expect(byFile["series/empty.dcm"]?.member("reason")?.value.string == "empty file")
        #expect(byFile["series/IM0050.dcm"]?.member("case")?.value.string == "INV3-CRANIUM_CT1")
    }

    @Test("a reference input gives every case the same file (an atlas or mask beside a DICOM series)")
    func referenceInput() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let mask = TestPaths.sampleData + "/nifti/ct_head_mask_bone.nii.gz"
        let pipeline = try PipelineFixtures.writePipeline("""
        { "$schema": "../pipelines/schema.json", "voxelflow": 1, "name": "reference",
          "inputs": { "ct": { "type": "nifti", "pattern": "nifti/ct_*_hu.nii.gz" },
                      "bone": { "type": "reference", "path": "\(mask)", "as": "labels" } },
          "stages": [ { "id": "stats", "type": "label-statistics", "labels": "bone", "image": "ct" },
                      { "id": "report", "type": "write-report" } ] }
        """, in: root)
        #expect(PipelineFixtures.cli(["validate", pipeline]).status == 0)
        let r = PipelineFixtures.cli(["run", pipeline, "-i", TestPaths.sampleData, "-o", root + "/out", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONParser.parse(String(contentsOfFile: root + "/out/cases/head/report.json", encoding: .utf8))
        guard case .array(let labels)? = report.member("results")?.value.member("stats")?.value.member("labels")?.value.value else {
            Issue.record("no statistics in the report"); return
        }
        let voxels = try NIfTI.read(mask).volume.voxels
        var count = 0
        for i in 0..<voxels.count where voxels.value(at: i) == 1 { count += 1 }
        #expect(labels.first?.member("voxels")?.value.json == .int(count))
        #expect(report.member("inputs")?.value.member("bone") != nil)
    }
}
