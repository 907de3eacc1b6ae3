import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelSupport

/// `convert --bids` and converting every series of a folder: the layout checked path by path with the
/// bids-validator package's rules, the voxels against single-series conversion, nothing of the user's replaced.
@Suite("voxelflow convert: whole folders and BIDS datasets")
struct CLIBIDSTests {
    /// Every file below `dir` relative to it, sorted.
    static func files(_ dir: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: dir)
        var out: [String] = []
        while let p = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + p, isDirectory: &isDir), !isDir.boolValue { out.append(p) }
        }
        return out.sorted()
    }

    @Test("a DWI MOSAIC run and a BOLD run become a BIDS dataset the validator's path rules accept, with .bval/.bvec and TaskName")
    func diffusionAndBold() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in/dwi", withIntermediateDirectories: true)
        try CLIDICOMTests.dwiSeries(into: dir + "/in/dwi")
        if let python = TestPaths.oraclePython {
            let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/make_geometry_cases.py",
                                    TestPaths.sampleData + "/dicom/ct_head_implicit", dir + "/in/bold", "fmri-acquisition"])
            try #require(r.status == 0, "\(r.stderr)")
        }
        let r = CLITests.run("convert", dir + "/in", dir + "/out", "--bids")
        #expect(r.status == 0, "\(r.stderr)")
        let dwi = "sub-unknown/ses-20100114/dwi/sub-unknown_ses-20100114_dwi"
        var expected = [".bidsignore", "dataset_description.json"] + [".bval", ".bvec", ".json", ".nii.gz"].map { dwi + $0 }
        let bold = "sub-INV3CRANIUM/ses-20240101/func/sub-INV3CRANIUM_ses-20240101_task-rest_bold"
        if TestPaths.oraclePython != nil { expected += [bold + ".json", bold + ".nii.gz"] }
        #expect(Self.files(dir + "/out") == expected.sorted())
        #expect(try String(contentsOfFile: dir + "/out/" + dwi + ".bval", encoding: .utf8) == "0 1000 1000\n")
        // The same voxels as converting the series alone.
        let alone = CLITests.run("convert", dir + "/in/dwi", dir + "/alone.nii.gz")
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(try NIfTI.read(dir + "/out/" + dwi + ".nii.gz").volume == NIfTI.read(dir + "/alone.nii.gz").volume)
        let description = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/dataset_description.json"))) as? [String: Any])
        #expect(description["BIDSVersion"] as? String == "1.9.0" && description["Name"] != nil)

        guard let python = TestPaths.oraclePython else { return }
        let sidecar = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/" + bold + ".json"))) as? [String: Any])
        #expect(sidecar["TaskName"] as? String == "rest" && sidecar["RepetitionTime"] as? Double == 2)
        let check = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/bids_check.py", dir + "/out"])
        try #require(check.status == 0, "\(check.stderr)")
        let verdict = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: [String]])
        #expect(verdict["invalid"] == ["/.bidsignore"], "\(verdict)")
        #expect(verdict["valid"]?.count == expected.count - 1)
    }

    @Test("CT goes to the ignored ct folder; a second run replaces nothing and says so; the user's dataset files stay")
    func rerunKeepsFiles() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try Data("{\"Name\": \"mine\"}\n".utf8).write(to: URL(fileURLWithPath: dir + "/out/dataset_description.json"))
        let r = CLITests.run("convert", TestPaths.sampleData + "/dicom", dir + "/out", "--bids", "-q")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: dir + "/out/dataset_description.json", encoding: .utf8) == "{\"Name\": \"mine\"}\n")
        #expect(try String(contentsOfFile: dir + "/out/.bidsignore", encoding: .utf8) == "**/ct/\n**/misc/\n")
        let ct = dir + "/out/sub-INV3CRANIUM/ses-20240101/ct/sub-INV3CRANIUM_ses-20240101_ct.nii.gz"
        let truth = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz").volume
        let c = try GridComparison(try NIfTI.read(ct).volume, against: truth)
        #expect(c.comparedVoxels == 256 * 256 * 16 && c.affineError < 1e-3 && c.maxAbsDifference == 0)
        #expect(Self.files(dir + "/out").filter { $0.hasSuffix(".nii.gz") }.count == 2)

        let before = try Data(contentsOf: URL(fileURLWithPath: ct))
        let again = CLITests.run("convert", TestPaths.sampleData + "/dicom", dir + "/out", "--bids")
        #expect(again.status == 4 && again.stderr.contains("already exists") && again.stderr.contains("2 of 2 series failed"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: ct)) == before)

        let two = CLITests.run("convert", TestPaths.sampleData + "/dicom", dir + "/x", "--bids", "--bids-subject", "01")
        #expect(two.status == 2 && two.stderr.contains("holds 2 patients"), "\(two.stderr)")
        let bad = CLITests.run("convert", TestPaths.sampleData + "/dicom/ct_head_implicit", dir + "/y", "--bids", "--bids-subject", "a_b")
        #expect(bad.status == 2 && bad.stderr.contains("letters and digits"), "\(bad.stderr)")
        let one = CLITests.run("convert", TestPaths.sampleData + "/dicom/ct_head_implicit", dir + "/z", "--bids", "--bids-subject", "01", "-q")
        #expect(one.status == 0, "\(one.stderr)")
        #expect(TestPaths.exists(dir + "/z/sub-01/ses-20240101/ct/sub-01_ses-20240101_ct.nii.gz"))
        let both = CLITests.run("convert", TestPaths.sampleData + "/dicom", dir + "/w", "--bids", "--name", "%p")
        #expect(both.status != 0 && both.stderr.contains("give one"))
    }

    @Test("a folder OUTPUT takes every series of a folder INPUT, clashing names get letters as dcm2niix's do")
    func everySeries() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let r = CLITests.run("convert", TestPaths.sampleData + "/dicom", dir + "/out/", "--name", "same", "--no-sidecar")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.files(dir + "/out") == ["same.nii.gz", "samea.nii.gz"])
        #expect(r.stdout.contains("converted 2 of 2 series"))
        let shapes = try Set(["same", "samea"].map { try NIfTI.read(dir + "/out/\($0).nii.gz").volume.shape })
        #expect(shapes == [[256, 256, 16, 1], [128, 128, 1, 1]])
    }
}
