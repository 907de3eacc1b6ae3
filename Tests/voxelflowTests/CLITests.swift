import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelSupport

/// The `voxelflow` executable, run as a user would.
@Suite("voxelflow command line")
struct CLITests {
    static var executable: String { TestPaths.voxelflowExecutable }

    static func run(_ args: String...) -> Subprocess.Result {
        Subprocess.run([executable] + args)
    }

    @Test("info --json reports nibabel's affine and shape for the demo CT")
    func infoJSON() throws {
        let path = TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz"
        let r = Self.run("info", path, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try JSONDecoder().decode(NIfTISummary.self, from: Data(r.stdout.utf8))
        let ref = try #require(NibabelReference.committed().first { $0.path == "sample-data/nifti/ct_head_hu.nii.gz" })
        #expect(summary.dimensions == ref.shape)
        #expect(Affine(rows: summary.affineRAS).maxAbsDifference(toRows: ref.affine) < 1e-4)
        #expect(summary.orientation == "LPS")
        #expect(summary.min == ref.min && summary.max == ref.max)
        #expect(summary.datatype == "int16")
    }

    @Test("info shows the qform/sform disagreement as a warning")
    func infoWarnsOnDisagreement() {
        let r = Self.run("info", TestPaths.sampleData + "/nifti/format/colin3mm_qform_ne_sform.nii.gz")
        #expect(r.status == 0)
        #expect(r.stdout.contains("warning") && r.stdout.contains("qform and sform disagree"))
    }

    @Test("info reads a DICOM header")
    func infoDICOM() {
        let r = Self.run("info", TestPaths.sampleData + "/dicom/CT_small.dcm")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("modality") && r.stdout.contains("CT"))
        #expect(r.stderr.isEmpty, "DCMTK's own log lines must not leak: \(r.stderr)")
    }

    @Test("convert round-trips through every output layout", arguments: ["out.nii", "out.nii.gz", "out.hdr"])
    func convert(_ name: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let input = TestPaths.sampleData + "/nifti/format/colin3mm_scl_slope0.5_inter-10.nii.gz"
        let r = Self.run("convert", input, dir + "/" + name)
        #expect(r.status == 0, "\(r.stderr)")
        let a = try NIfTI.read(input)
        let b = try NIfTI.read(dir + "/" + name)
        #expect(a.volume.voxels == b.volume.voxels)
        #expect(a.volume.scaling == b.volume.scaling)
        #expect(b.header.sformCode == a.header.sformCode)
    }

    @Test("a bad input exits 2 and names the file", arguments: ["missing.nii.gz", "bad.nii"])
    func badInput(_ name: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let path = dir + "/" + name
        if name == "bad.nii" { try Data("not nifti".utf8).write(to: URL(fileURLWithPath: path)) }
        for args in [["info", path], ["convert", path, dir + "/out.nii"]] {
            let r = Subprocess.run([Self.executable] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(path))
            #expect(!TestPaths.exists(dir + "/out.nii"))
        }
    }

    @Test("an unwritable output exits 3")
    func unwritableOutput() {
        let r = Self.run("convert", TestPaths.sampleData + "/nifti/format/nibabel_standard.nii.gz", "/nonexistent-dir/out.nii")
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("/nonexistent-dir/out.nii"))
    }

    @Test("wrong usage exits 64 and help lists the exit codes")
    func usage() {
        #expect(Self.run("convert", "only-one-argument").status == 64)
        #expect(Self.run("convert", "a.nii", "b.nii", "--level", "99").status == 64)
        let help = Self.run("--help")
        #expect(help.stdout.contains("EXIT CODES") && help.stdout.contains("info") && help.stdout.contains("convert"))
    }

    @Test("converted files read in nibabel with the same affine and voxels",
          .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)),
          arguments: ["nifti/ct_head_hu.nii.gz", "nifti/format/colin3mm_qform_ne_sform.nii.gz", "nifti/format/nibabel_reoriented_anat_moved.nii",
                      "nifti/format/colin3mm_scl_slope0.5_inter-10.nii.gz", "nifti/format/nibabel_example4d.nii.gz"])
    func nibabelReadsOurOutput(_ source: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let ref = try #require(NibabelReference.committed().first { $0.path == "sample-data/" + source })
        let outputs = ["a.nii", "b.nii.gz", "c.hdr"].map { dir + "/" + $0 }
        for (n, out) in outputs.enumerated() {
            var args = ["convert", TestPaths.sampleData + "/" + source, out]
            if n == 1 { args += ["--nifti-version", "2", "--big-endian"] }
            let r = Subprocess.run([Self.executable] + args)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let live = try #require(NibabelReference.live(outputs))
        #expect(live.count == outputs.count)
        for got in live {
            #expect(Affine(rows: got.affine).maxAbsDifference(toRows: ref.affine) < 1e-4, "\(got.path)")
            #expect(got.shape == ref.shape)
            #expect(got.stored_sha256 == ref.stored_sha256, "\(got.path): stored voxels")
            #expect(got.scaled_sha256 == ref.scaled_sha256, "\(got.path): scaled voxels")
        }
    }
}

/// The exit-code table is written once, in the code: `--help` prints it, and the README's copy must match.
@Suite("exit codes")
struct ExitCodeTableTests {
    @Test("the README's exit-code table is the one `voxelflow --help` prints")
    func readmeMatchesHelp() throws {
        let help = Subprocess.run([TestPaths.voxelflowExecutable, "--help"]).stdout
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("EXIT CODES") }.dropFirst()
        var table: [(String, String)] = []
        for line in lines {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { break }
            if let space = t.firstIndex(of: " "), Int(t[..<space]) != nil {
                table.append((String(t[..<space]), t[space...].trimmingCharacters(in: .whitespaces)))
            } else if let last = table.popLast() {
                table.append((last.0, last.1 + " " + t))  // a continuation line
            }
        }
        #expect(table.count >= 6, "\(help)")
        let readme = try String(contentsOfFile: TestPaths.repositoryRoot + "/README.md", encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.split(separator: "|").count == 2 }
        let readmeTable = rows.compactMap { row -> (String, String)? in
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, Int(cells[0]) != nil else { return nil }
            return (cells[0], cells[1].replacingOccurrences(of: "`", with: ""))
        }
        #expect(readmeTable.map(\.0) == table.map(\.0), "README codes \(readmeTable.map(\.0)) vs --help \(table.map(\.0))")
        #expect(readmeTable.map(\.1) == table.map(\.1), "README meanings differ from --help")
    }
}

/// Every command and every option `--help` lists is documented in the README.
@Suite("README covers the CLI")
struct ReadmeCoverageTests {
    @Test("each subcommand has a README section and each of its options is named there")
    func everyOptionDocumented() throws {
        let readme = try String(contentsOfFile: TestPaths.repositoryRoot + "/README.md", encoding: .utf8)
        let help = Subprocess.run([TestPaths.voxelflowExecutable, "--help"]).stdout
        let commands = help.split(separator: "\n").drop { !$0.hasPrefix("SUBCOMMANDS") }.dropFirst()
            .prefix { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .compactMap { line -> String? in
                // A subcommand line is indented by two spaces; its wrapped description by more.
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first else { return nil }
                return word.allSatisfy { $0.isLowercase || $0 == "-" } ? String(word) : nil
            }
        #expect(commands.count >= 20, "\(help)")
        var missing: [String] = []
        for command in commands {
            if !readme.contains("voxelflow \(command)") { missing.append("\(command) (no section)") }
            let text = Subprocess.run([TestPaths.voxelflowExecutable, command, "--help"]).stdout
            for line in text.split(separator: "\n") {
                // Option lines are indented by two spaces (descriptions and the discussion are not).
                guard line.hasPrefix("  -") else { continue }
                let t = line.trimmingCharacters(in: .whitespaces)
                for token in t.split(separator: " ").prefix(3) {
                    for part in token.split(separator: "/") {
                        let option = part.trimmingCharacters(in: CharacterSet(charactersIn: ",<>"))
                        guard option.hasPrefix("--"), option != "--help", option != "--version" else { continue }
                        if !readme.contains(option) { missing.append("\(command) \(option)") }
                    }
                }
            }
        }
        #expect(missing.isEmpty, "not in the README: \(missing)")
    }
}
