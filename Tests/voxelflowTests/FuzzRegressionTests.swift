import Foundation
import Testing
import TestSupport

/// Every input the fuzzer found (Tests/Fixtures/fuzz/crashes) and every seed of its corpora
/// (Tests/Fixtures/fuzz/seeds), replayed through the same targets without libFuzzer: each must end in a value
/// or a typed error, within the time limit, without a crash.
@Suite("fuzz findings and seeds replay without a crash")
struct FuzzRegressionTests {
    static var fuzzExecutable: String {
        (TestPaths.voxelflowExecutable as NSString).deletingLastPathComponent + "/voxelflow-fuzz"
    }

    static let targets = ["nifti", "nifti-gz", "dicom", "seg", "deidentify", "pipeline", "safetensors", "checkpoint", "scan-cache", "dicomdir"]

    static func inputs(_ kind: String, _ target: String) -> [String] {
        let dir = TestPaths.repositoryRoot + "/Tests/Fixtures/fuzz/\(kind)/\(target)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    @Test("each target's seeds and findings replay to a value or an error", arguments: targets)
    func replay(_ target: String) throws {
        let files = Self.inputs("seeds", target) + Self.inputs("crashes", target)
        try #require(!Self.inputs("seeds", target).isEmpty, "no seeds for \(target)")
        let r = Subprocess.run([Self.fuzzExecutable, target] + files, timeout: 300)
        #expect(r.status == 0, "\(target): exit \(r.status)\n\(r.stderr.suffix(2000))")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == files.count, "\(target): \(lines.count) outcomes for \(files.count) inputs\n\(r.stdout.suffix(1000))")
        // The seeds are valid inputs: most must parse (a target that rejects everything tests nothing).
        let seeds = Set(Self.inputs("seeds", target))
        let ok = lines.filter { line in seeds.contains { line.hasPrefix($0 + ": ok") } }.count
        #expect(ok * 2 >= seeds.count, "\(target): only \(ok) of \(seeds.count) seeds parse\n\(r.stdout.suffix(1500))")
    }

    /// What each finding must now give: a typed error naming the problem (each once crashed, overflowed the
    /// stack or asked for gigabytes).
    static let findings: [(target: String, file: String, reason: String)] = [
        ("nifti", "nifti2-dim0-2pow32.nii", "dim[0] = 4294967299, must be 1 to 7"),
        ("dicom", "j2k-frame-larger-than-header.dcm", "the JPEG 2000 frame is 512 x 16908800"),
        ("seg", "seg-frames-beyond-pixel-data.dcm", "the pixel data holds 32768 bytes"),
    ]

    @Test("each fuzzing finding fails with its reason", arguments: 0..<3)
    func findingReasons(_ n: Int) {
        let f = Self.findings[n]
        let path = TestPaths.repositoryRoot + "/Tests/Fixtures/fuzz/crashes/\(f.target)/\(f.file)"
        let r = Subprocess.run([Self.fuzzExecutable, f.target, path], timeout: 60)
        #expect(r.status == 0 && r.stdout.contains("error:") && r.stdout.contains(f.reason), "\(r.stdout)\(r.stderr.suffix(500))")
    }
}
