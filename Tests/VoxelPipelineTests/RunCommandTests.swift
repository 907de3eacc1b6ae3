import VoxelCore
import Foundation
import Testing
import TestSupport
import VoxelPipeline
import VoxelIO
import VoxelSupport

/// `voxelflow run`, `stages` and the example pipelines, through the command line.
@Suite("voxelflow run")
struct RunCommandTests {
    @Test("every example pipeline runs on sample-data and every case succeeds")
    func examplePipelines() throws {
        let dir = TestPaths.repositoryRoot + "/pipelines"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") && $0 != "schema.json" }.sorted()
        #expect(files.count >= 3)
        // Pipelines whose scans sit in a folder of their own in the sample data.
        let inputs = ["brain-extraction.json": TestPaths.sampleData + "/nifti/t1", "route-by-scan-type.json": TestPaths.sampleData + "/nifti/t1"]
        for f in files {
            let out = TestPaths.temporaryDirectory()
            defer { TestPaths.removeTree(out) }
            let r = PipelineFixtures.cli(["run", "\(dir)/\(f)", "--input", inputs[f] ?? TestPaths.sampleData, "--output", out + "/run"])
            #expect(r.status == 0, "\(f): \(r.stderr)")
            let lines = try PipelineFixtures.manifest(out + "/run")
            #expect(!lines.isEmpty, "\(f) found no cases")
            #expect(lines.allSatisfy { $0.member("status")?.value.string == "ok" }, "\(f)")
            let files = PipelineFixtures.tree(out + "/run/cases")
            #expect(files.keys.contains { $0.hasSuffix("report.json") }, "\(f)")
        }
    }

    @Test("the DICOM example writes the head CT as dcm2niix-compatible NIfTI with a report")
    func dicomExample() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json", "-i", TestPaths.sampleData + "/dicom", "-o", out + "/r", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        // Same voxels and affine as `voxelflow convert` (which is checked against dcm2niix and nibabel).
        let converted = out + "/converted.nii.gz"
        #expect(PipelineFixtures.cli(["convert", TestPaths.sampleData + "/dicom/ct_head_implicit", converted, "-q"]).status == 0)
        let a = PipelineFixtures.cli(["info", "--json", converted]).stdout
        let b = PipelineFixtures.cli(["info", "--json", out + "/r/cases/INV3-CRANIUM_CT1/INV3-CRANIUM_CT1.nii.gz"]).stdout
        let strip = { (s: String) in s.split(separator: "\n").filter { !$0.contains("\"path\"") }.joined(separator: "\n") }
        #expect(!a.isEmpty && strip(a) == strip(b))
    }

    @Test("a batch with a corrupt case exits 4, prints the failure and keeps the other results")
    func exitCodeOnFailure() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 3, corrupt: [1], size: 6)
        let pipeline = try PipelineFixtures.writePipeline(PipelineFixtures.statisticsPipeline, in: root)
        let r = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/out", "--jobs", "2"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("case case01 FAILED at input:ct"), "\(r.stderr)")
        #expect(r.stdout.contains("3 cases: 2 succeeded, 1 failed"))
    }

    @Test("killed with SIGKILL mid-run, then --resume: no partial files, and the same results as an uninterrupted run")
    func killAndResume() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 16, size: 24)
        let pipeline = try PipelineFixtures.writeSlowPipeline(in: root, seconds: 0.15)

        let reference = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/reference", "-q"])
        #expect(reference.status == 0, "\(reference.stderr)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.voxelflowExecutable)
        process.arguments = ["run", pipeline, "-i", root + "/archive", "-o", root + "/out", "-q", "--jobs", "2"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let done = (try? String(contentsOfFile: root + "/out/manifest.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
            if done >= 4 { break }
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        // After the kill: every case folder under cases/ is complete (all files, readable); none is half written.
        let manifestAfterKill = try PipelineFixtures.manifest(root + "/out")
        #expect(manifestAfterKill.count >= 4 && manifestAfterKill.count < 16, "the kill should land mid-run")
        let cases = try FileManager.default.contentsOfDirectory(atPath: root + "/out/cases")
        for c in cases {
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: root + "/out/cases/\(c)"))
            #expect(files == ["mask_clean.nii.gz", "report.json"], "\(c): \(files)")
            let reportText = try String(contentsOfFile: root + "/out/cases/\(c)/report.json", encoding: .utf8)
            #expect((try? JSONParser.parse(reportText)) != nil, "\(c)/report.json is complete JSON")
        }

        // A case is complete when its folder is in place (its manifest line is written just before).
        let complete = cases.count
        let resumed = PipelineFixtures.cli(["run", pipeline, "-i", root + "/archive", "-o", root + "/out", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("16 cases: \(16 - complete) succeeded, 0 failed, \(complete) skipped"), "\(resumed.stdout)")
        #expect(!TestPaths.exists(root + "/out/.partial"))
        #expect(PipelineFixtures.tree(root + "/out/cases") == PipelineFixtures.tree(root + "/reference/cases"))
        let lines = try PipelineFixtures.manifest(root + "/out")
        #expect(lines.count == 16 && Set(lines.compactMap { $0.member("case")?.value.string }).count == 16)
    }

    @Test("pipelines/schema.json and docs/stages.md are what the code generates")
    func generatedFilesUpToDate() throws {
        let schema = PipelineFixtures.cli(["stages", "--schema"])
        #expect(schema.status == 0)
        let committedSchema = try String(contentsOfFile: TestPaths.repositoryRoot + "/pipelines/schema.json", encoding: .utf8)
        #expect(schema.stdout == committedSchema, "pipelines/schema.json is stale: run `voxelflow stages --schema > pipelines/schema.json`")
        let markdown = PipelineFixtures.cli(["stages", "--markdown"])
        let committedDocs = try String(contentsOfFile: TestPaths.repositoryRoot + "/docs/stages.md", encoding: .utf8)
        #expect(markdown.stdout == committedDocs, "docs/stages.md is stale: run `voxelflow stages --markdown > docs/stages.md`")
        // The schema is valid JSON and lists every registered stage type.
        let node = try JSONParser.parse(schema.stdout)
        for type in PipelineFixtures.registry.definitions.keys {
            #expect(node.member("$defs")?.value.member("stage-\(type)") != nil, "\(type) missing from the schema")
        }
    }

    @Test("outputs say what they are: label maps carry the NIfTI label intent and no scan description; reports name the pipeline and its hash")
    func outputsSayWhatTheyAre() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let pipeline = TestPaths.repositoryRoot + "/pipelines/ct-bone-segmentation.json"
        let r = PipelineFixtures.cli(["run", pipeline, "-i", TestPaths.sampleData + "/dicom", "-o", out + "/r", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let header = try NIfTI.readHeader(out + "/r/cases/INV3-CRANIUM_CT1/bone.nii.gz")
        #expect(header.intentCode == NIfTIWriteOptions.labelIntent)
        #expect(header.descrip.isEmpty, "\(header.descrip)")
        let report = try JSONParser.parse(String(contentsOfFile: out + "/r/cases/INV3-CRANIUM_CT1/report.json", encoding: .utf8))
        let bytes = try #require(FileManager.default.contents(atPath: pipeline))
        #expect(report.member("pipeline")?.value.member("name")?.value.string == "ct-bone-segmentation")
        #expect(report.member("pipeline")?.value.member("sha256")?.value.string == SHA256.hex([UInt8](bytes)))
        #expect(report.member("pipeline")?.value.member("formatVersion")?.value.json == .int(PipelineSpec.formatVersion))
        #expect(report.member("tool")?.value.string?.hasPrefix("voxelflow ") == true)
    }

    @Test("the bone pipeline's DICOM SEG lies on the series and equals its NIfTI label map (read by highdicom)",
          .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
    func pipelineSEG() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/ct-bone-segmentation.json", "-i", TestPaths.sampleData + "/dicom", "-o", out + "/r", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let caseDir = out + "/r/cases/INV3-CRANIUM_CT1"
        let python = try #require(TestPaths.oraclePython)
        let check = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/seg_reference.py", caseDir + "/bone_seg.dcm",
                                    TestPaths.sampleData + "/dicom/ct_head_implicit", caseDir + "/bone.nii.gz"])
        try #require(check.status == 0, "\(check.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect(json["differing"] as? Int == 0, "\(check.stdout.prefix(300))")
        let segments = try #require(json["segments"] as? [[String: Any]])
        #expect(segments.first?["label"] as? String == "Bone" && segments.first?["type"] as? String == "272673000")
        // The statistics take their label names from the same table.
        let report = try JSONParser.parse(String(contentsOfFile: caseDir + "/report.json", encoding: .utf8))
        guard case .array(let labels)? = report.member("results")?.value.member("stats")?.value.member("labels")?.value.value else {
            Issue.record("no statistics"); return
        }
        #expect(labels.first?.member("name")?.value.string == "Bone")

        // The measurement report on that SEG: one group, the bone, its volume as highdicom measures the SEG.
        let sr = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/sr_reference.py", caseDir + "/measurements.dcm",
                                 caseDir + "/bone_seg.dcm", TestPaths.sampleData + "/dicom/ct_head_implicit"])
        try #require(sr.status == 0, "\(sr.stderr)")
        let measured = try #require(try JSONSerialization.jsonObject(with: Data(sr.stdout.utf8)) as? [String: Any])
        let groups = try #require(measured["groups"] as? [[String: Any]])
        #expect(groups.count == 1 && groups.first?["tracking_identifier"] as? String == "Bone")
        let reference = try #require((measured["reference"] as? [String: [String: Double]])?["1"])
        let volume = (groups.first?["measurements"] as? [[String: Any]])?.first { $0["name"] as? String == "Volume" }?["value"] as? Double
        #expect(volume.map { abs($0 - (reference["volume"] ?? 0)) < 1e-6 * $0 } == true, "\(volume ?? -1) vs \(reference)")
    }

    @Test("--dry-run lists the cases and their files and writes nothing")
    func dryRun() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json", "-i", TestPaths.sampleData + "/dicom", "-o", root + "/out", "--dry-run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 cases would run"))
        #expect(r.stdout.contains("\(root)/out/cases/INV3-CRANIUM_CT1/INV3-CRANIUM_CT1.nii.gz"))
        #expect(!TestPaths.exists(root + "/out"))
    }
}
