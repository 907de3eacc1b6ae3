import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// The batch runner: failures stay within their case, outputs are atomic and deterministic, shards
/// partition the cases, and identifiers from scans cannot escape the output folder.
@Suite("Pipeline runner")
struct RunnerTests {
    static func run(_ pipeline: String, archive: String, out: String, configure: (inout RunOptions) -> Void = { _ in }) throws -> RunSummary {
        let dir = (out as NSString).deletingLastPathComponent
        let path = try PipelineFixtures.writePipeline(pipeline, in: dir, name: "pipeline-\((out as NSString).lastPathComponent).json")
        let spec = try PipelineValidator(registry: PipelineFixtures.registry).load(path)
        var options = RunOptions(archive: archive, output: out)
        configure(&options)
        return try Runner(spec: spec, registry: PipelineFixtures.registry).run(options, progress: ProgressReporter(style: .quiet))
    }

    @Test("one corrupt case fails with the file and stage named; the others complete")
    func corruptCase() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 5, corrupt: [2])
        let summary = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out")
        #expect(summary.total == 5 && summary.succeeded == 4 && summary.failed == 1)
        let lines = try PipelineFixtures.manifest(root + "/out")
        #expect(lines.count == 5)
        let failed = try #require(lines.first { $0.member("status")?.value.string == "failed" })
        #expect(failed.member("case")?.value.string == "case02")
        let error = try #require(failed.member("error")?.value)
        // The corrupt image is reported as the input that failed (the statistics stage is the first to read it).
        #expect(error.member("stage")?.value.string == "input:ct")
        #expect(error.member("message")?.value.string?.contains("images/case02.nii.gz") == true, "\(error.json)")
        // Nothing of the failed case under its name; everything of the others.
        let files = PipelineFixtures.tree(root + "/out/cases")
        #expect(!files.keys.contains { $0.hasPrefix("case02") })
        for n in [0, 1, 3, 4] {
            #expect(files["case0\(n)/mask_clean.nii.gz"] != nil && files["case0\(n)/report.json"] != nil)
        }
        #expect(!TestPaths.exists(root + "/out/.partial"))
        // run.json records the outcome and the pipeline's hash.
        let run = try JSONParser.parse(String(contentsOfFile: root + "/out/run.json", encoding: .utf8))
        #expect(run.member("cases")?.value.member("failed")?.value.json == .int(1))
        #expect(run.member("pipeline")?.value.member("sha256")?.value.string?.count == 64)
    }

    @Test("the label statistics in a report match a direct count of the label map")
    func reportContent() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 1)
        _ = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out")
        let report = try JSONParser.parse(String(contentsOfFile: root + "/out/cases/case00/report.json", encoding: .utf8))
        let labels = try #require(report.member("results")?.value.member("stats")?.value.member("labels")?.value)
        guard case .array(let entries) = labels.value else { Issue.record("labels is not an array"); return }
        // Label 1: the block i 2...5, j 3...8, k 1...6 = 4 × 6 × 6 voxels of 3 mm³.
        #expect(entries.first?.member("voxels")?.value.json == .int(144))
        #expect(entries.first?.member("volumeML")?.value.json == .number(0.432))
        #expect(entries.first?.member("boundingBox")?.value.json == .object([("min", .array([.int(2), .int(3), .int(1)])), ("max", .array([.int(5), .int(8), .int(6)]))]))
        // Centroid index (3.5, 5.5, 3.5) → LPS (−10 + 3.5, 20 + 5.5 × 1.5, 0 + 3.5 × 2).
        #expect(entries.first?.member("centroidLPS")?.value.json == .array([.number(-6.5), .number(28.25), .int(7)]))
        #expect(entries.count == 2)
        // The written mask is the input mask (both labels are single components) on the same grid.
        let written = try NIfTI.read(root + "/out/cases/case00/mask_clean.nii.gz").volume
        let original = try NIfTI.read(root + "/archive/labels/case00.nii.gz").volume
        #expect(written.voxels == original.voxels && written.geometry == original.geometry)
    }

    @Test("same pipeline, inputs and seed give byte-identical case outputs, with 1 or 2 jobs")
    func determinism() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 6)
        _ = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/a") { $0.jobs = 1 }
        _ = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/b") { $0.jobs = 2 }
        let a = PipelineFixtures.tree(root + "/a/cases"), b = PipelineFixtures.tree(root + "/b/cases")
        #expect(a.count == 12)
        #expect(a == b)
    }

    @Test("shards i/n cover every case exactly once", arguments: [1, 2, 3, 7])
    func shards(count: Int) throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 10, size: 4)
        let path = try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: root)
        let spec = try PipelineValidator(registry: PipelineFixtures.registry).load(path)
        let all = try CaseDiscovery.discover(spec, archive: root + "/archive").map(\.id)
        #expect(all.count == 10)
        var seen: [String] = []
        for i in 1...count {
            let summary = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/dry\(i)") {
                $0.dryRun = true
                $0.shard = (i, count)
            }
            seen += summary.plan.map(\.caseID)
        }
        #expect(seen.sorted() == all.sorted())
        #expect(!TestPaths.exists(root + "/dry1"), "a dry run writes nothing")
    }

    @Test("a PatientID like ../../etc names a folder inside the output folder, and the patient's name is nowhere")
    func pathSanitising() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let pipeline = """
        { "voxelflow": 1, "name": "t", "inputs": { "scan": { "type": "dicom-series" } },
          "stages": [ { "id": "nifti", "type": "write-nifti", "source": "scan", "path": "{case}.nii.gz" }, { "id": "report", "type": "write-report" } ] }
        """
        let summary = try Self.run(pipeline, archive: TestPaths.repositoryRoot + "/Tests/Fixtures/dicom", out: root + "/out")
        #expect(summary.succeeded == 1)
        let files = PipelineFixtures.tree(root)
        #expect(files.keys.contains("out/cases/etc_CT1/etc_CT1.nii.gz"), "\(files.keys.sorted())")
        #expect(files.keys.allSatisfy { $0.hasPrefix("out/") || $0.hasPrefix("pipeline-") })
        for (name, data) in files where !name.hasSuffix(".nii.gz") {
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.contains("Traversal") && !text.contains("19700101"), "\(name) shows PHI")
        }
    }

    @Test("sanitised path components", arguments: [
        ("../../etc", "etc"), ("..", "unnamed"), ("", "unnamed"), ("a/b\\c", "a_b_c"), ("Müller, Anna", "M_ller_Anna"),
        (".hidden", "hidden"), ("x..y", "x._y"), ("ok-1.2_3", "ok-1.2_3"), (String(repeating: "z", count: 200), String(repeating: "z", count: 80)),
    ])
    func sanitiser(input: String, expected: String) {
        let s = PathSanitizer.component(input)
        #expect(s == expected)
        #expect(!s.contains("/") && !s.hasPrefix(".") && s != "..")
    }

    @Test("a second run into the same folder is refused unless resumed or forced")
    func refusesOverwrite() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 2, size: 4)
        _ = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out")
        #expect(throws: Runner.RunError.self) { _ = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out") }
        let resumed = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out") { $0.resume = true }
        #expect(resumed.skipped == 2 && resumed.succeeded == 0)
        let forced = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out") { $0.force = true }
        #expect(forced.succeeded == 2 && forced.skipped == 0)
        #expect(try PipelineFixtures.manifest(root + "/out").count == 2)
    }

    @Test("a missing partner file fails only that case, naming the expected file")
    func missingPartner() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 3, size: 4)
        try FileManager.default.removeItem(atPath: root + "/archive/labels/case01.nii.gz")
        let summary = try Self.run(PipelineFixtures.statisticsPipeline, archive: root + "/archive", out: root + "/out")
        #expect(summary.succeeded == 2 && summary.failed == 1)
        #expect(summary.failures.first?.error?.stage == "inputs")
        #expect(summary.failures.first?.error?.message.contains("labels/case01.nii.gz") == true)
    }
}
