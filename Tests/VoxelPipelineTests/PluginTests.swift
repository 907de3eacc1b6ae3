import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// The two analysis plugins: label statistics (checked against numpy on the real head CT) and the
/// external command stage (success, failure, timeout).
@Suite("Analysis plugins")
struct PluginTests {
    @Test("label statistics on the sample head CT match numpy/nibabel", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
    func labelStatisticsMatchNumpy() throws {
        let python = try #require(TestPaths.oraclePython)
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/label-statistics.json", "-i", TestPaths.sampleData, "-o", out + "/r", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONParser.parse(String(contentsOfFile: out + "/r/cases/head/report.json", encoding: .utf8))
        let oracle = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/label_statistics_reference.py",
                                     TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz", TestPaths.sampleData + "/nifti/ct_head_mask_head.nii.gz", "1,50,99"])
        #expect(oracle.status == 0, "\(oracle.stderr)")
        let expected = try JSONParser.parse(oracle.stdout)
        guard case .array(let refs) = expected.value,
              case .array(let ours)? = report.member("results")?.value.member("headStats")?.value.member("labels")?.value.value else {
            Issue.record("unexpected report shape"); return
        }
        #expect(refs.count == ours.count && !refs.isEmpty)
        for (ref, mine) in zip(refs, ours) {
            #expect(mine.member("label")?.value.json == ref.member("label")?.value.json)
            #expect(mine.member("voxels")?.value.json == ref.member("voxels")?.value.json)
            // Voxel volume from the affine (ours) or from pixdim stored as float32 (nibabel's zooms).
            let a = mine.member("volumeML")?.value.json.doubleValue ?? .nan, b = ref.member("volumeML")?.value.json.doubleValue ?? .nan
            #expect(abs(a - b) <= 1e-6 * b, "volumeML: \(a) vs \(b)")
            #expect(mine.member("boundingBox")?.value.json == ref.member("boundingBox")?.value.json)
            for key in ["centroidLPS", "centroidRAS"] {
                guard case .array(let a)? = mine.member(key)?.value.json, case .array(let b)? = ref.member(key)?.value.json else { Issue.record("\(key) missing"); continue }
                for (x, y) in zip(a, b) { #expect(abs((x.doubleValue ?? .nan) - (y.doubleValue ?? .nan)) <= 1e-4, "\(key)") }
            }
            let stats = mine.member("intensity")?.value, refStats = ref.member("intensity")?.value
            for key in ["mean", "std", "min", "max", "p1", "p50", "p99"] {
                let a = stats?.member(key)?.value.json.doubleValue ?? .nan, b = refStats?.member(key)?.value.json.doubleValue ?? .nan
                #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(key): \(a) vs numpy \(b)")
            }
        }
    }

    @Test("label statistics refuse a label map on another grid unless asked to resample it")
    func gridMismatch() throws {
        let g1 = Geometry(size: SIMD3(4, 4, 4), spacing: SIMD3(1, 1, 1))
        let g2 = Geometry(size: SIMD3(4, 4, 4), spacing: SIMD3(2, 2, 2))
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        try NIfTI.write(Volume(geometry: g1, voxels: .float32((0..<64).map(Float.init))), to: root + "/a/x_img.nii")
        try NIfTI.write(Volume(geometry: g2, voxels: .uint8([UInt8](repeating: 1, count: 64))), to: root + "/a/x_seg.nii")
        let pipeline = """
        { "voxelflow": 1, "name": "t",
          "inputs": { "img": { "type": "nifti", "pattern": "a/*_img.nii" }, "seg": { "type": "nifti", "pattern": "a/*_seg.nii", "as": "labels" } },
          "stages": [ { "id": "s", "type": "label-statistics", "labels": "seg", "image": "img" RESAMPLE }, { "id": "r", "type": "write-report" } ] }
        """
        let strict = try RunnerTests.run(pipeline.replacingOccurrences(of: "RESAMPLE", with: ""), archive: root, out: root + "/strict")
        #expect(strict.failed == 1)
        #expect(strict.failures.first?.error?.message.contains("is not on the grid of image") == true)
        let lenient = try RunnerTests.run(pipeline.replacingOccurrences(of: "RESAMPLE", with: #", "resampleLabels": true"#), archive: root, out: root + "/lenient")
        #expect(lenient.succeeded == 1)
        let report = try JSONParser.parse(String(contentsOfFile: root + "/lenient/cases/x/report.json", encoding: .utf8))
        // The 2 mm label grid covers the whole 1 mm image: all 64 voxels, mean of 0…63.
        guard case .array(let labels)? = report.member("results")?.value.member("s")?.value.member("labels")?.value.value else { Issue.record("no labels"); return }
        #expect(labels.first?.member("voxels")?.value.json == .int(64))
        #expect(labels.first?.member("intensity")?.value.member("mean")?.value.json == .number(31.5))
    }

    static func externalPipeline(_ command: String, timeout: Double = 30) -> String {
        """
        { "voxelflow": 1, "name": "ext",
          "inputs": { "ct": { "type": "nifti", "pattern": "images/*.nii.gz" }, "mask": { "type": "nifti", "pattern": "labels/*.nii.gz", "as": "labels" } },
          "stages": [
            { "id": "seg", "type": "external-command", "command": \(command), "timeout": \(timeout), "parameters": { "threshold": 300 }, "grid": "ct" },
            { "id": "w", "type": "write-nifti", "source": "seg", "path": "seg.nii.gz" }
          ] }
        """
    }

    @Test("an external program's label map becomes the stage result; its parameters reach it as JSON")
    func externalSuccess() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 2, size: 6)
        let script = root + "/seg.sh"
        // Copies the mask to the output and records the parameters file it was given.
        try "#!/bin/sh\nset -e\ncp \"$1\" \"$2\"\ncp \"$3\" \"$4.params.json\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let summary = try RunnerTests.run(Self.externalPipeline(#"["\#(script)", "{nifti:mask}", "{output}", "{params}", "\#(root)/{case}"]"#), archive: root + "/archive", out: root + "/out")
        #expect(summary.succeeded == 2, "\(summary.failures.map { $0.error?.message ?? "" })")
        let written = try NIfTI.read(root + "/out/cases/case01/seg.nii.gz").volume
        let original = try NIfTI.read(root + "/archive/labels/case01.nii.gz").volume
        #expect(written.voxels == original.voxels && written.geometry == original.geometry)
        let params = try JSONParser.parse(String(contentsOfFile: root + "/case01.params.json", encoding: .utf8))
        #expect(params.json == .object([("threshold", .int(300))]))
    }

    @Test("a failing external program fails the case with its exit status and error output")
    func externalFailure() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 1, size: 4)
        let summary = try RunnerTests.run(Self.externalPipeline(#"["/bin/sh", "-c", "echo model weights missing >&2; exit 3"]"#), archive: root + "/archive", out: root + "/out")
        #expect(summary.failed == 1)
        let message = summary.failures.first?.error?.message ?? ""
        #expect(message.contains("sh exited with status 3") && message.contains("model weights missing"), "\(message)")
        #expect(summary.failures.first?.error?.stage == "seg")
    }

    @Test("an external program that writes nothing, or runs past its timeout, fails the case")
    func externalTimeoutAndNoOutput() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 1, size: 4)
        let silent = try RunnerTests.run(Self.externalPipeline(#"["/bin/true"]"#), archive: root + "/archive", out: root + "/silent")
        #expect(silent.failures.first?.error?.message.contains("wrote no label map") == true)
        let start = Date()
        let slow = try RunnerTests.run(Self.externalPipeline(#"["/bin/sh", "-c", "sleep 30"]"#, timeout: 0.5), archive: root + "/archive", out: root + "/slow")
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(slow.failures.first?.error?.message.contains("did not finish within 0.5 s") == true, "\(slow.failures.first?.error?.message ?? "")")
    }

    @Test("an external label map on the wrong grid is refused")
    func externalWrongGrid() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 1, size: 4)
        let other = root + "/other.nii.gz"
        try NIfTI.write(Volume(geometry: Geometry(size: SIMD3(3, 3, 3), spacing: SIMD3(1, 1, 1)), voxels: .uint8([UInt8](repeating: 0, count: 27))), to: other)
        let summary = try RunnerTests.run(Self.externalPipeline(#"["/bin/cp", "\#(other)", "{output}"]"#), archive: root + "/archive", out: root + "/out")
        #expect(summary.failures.first?.error?.message.contains("not on the grid of \"ct\"") == true)
    }
}
