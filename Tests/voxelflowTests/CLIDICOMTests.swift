import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelSupport

/// `scan` and DICOM `convert` on the committed sample series, checked against the committed HU volume of
/// the same CT (whose reading is itself checked against nibabel).
@Suite("voxelflow scan and DICOM convert")
struct CLIDICOMTests {
    static let dicom = TestPaths.sampleData + "/dicom"

    @Test("scan --json lists both sample series with their grids")
    func scanJSON() throws {
        let r = CLITests.run("scan", Self.dicom, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let stacks = try #require(json["stacks"] as? [[String: Any]])
        #expect(stacks.count == 2)
        let head = try #require(stacks.first { ($0["dimensions"] as? [Int]) == [256, 256, 16] })
        #expect(head["orientation"] as? String == "LPS")
        #expect(head["modality"] as? String == "CT")
        let spacing = try #require(head["spacing"] as? [Double])
        #expect(abs(spacing[2] - 1.5) < 1e-6 && abs(spacing[0] - 0.957031) < 1e-5)
        #expect((json["unreadable"] as? [Any])?.isEmpty == true)
    }

    @Test("scan's table names the series and the bad files")
    func scanTable() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try FileManager.default.copyItem(atPath: Self.dicom + "/CT_small.dcm", toPath: dir + "/a.dcm")
        try Data("not dicom".utf8).write(to: URL(fileURLWithPath: dir + "/b.dcm"))
        let r = CLITests.run("scan", dir)
        #expect(r.status == 0)
        #expect(r.stdout.contains("1 image stack(s)") && r.stdout.contains("unreadable: \(dir)/b.dcm"))
    }

    @Test("convert lists the choices when a folder holds several series")
    func convertNeedsChoice() {
        let r = CLITests.run("convert", Self.dicom, "/tmp/never-written.nii.gz")
        #expect(r.status == 2)
        #expect(r.stderr.contains("2 series found") && r.stderr.contains("--series"))
        #expect(!TestPaths.exists("/tmp/never-written.nii.gz"))
    }

    @Test("converting the sample series (by folder, by --series, by one file) gives the committed HU volume",
          arguments: [["ct_head_implicit"], ["", "--series", "UID"], ["ct_head_implicit/IM0050.dcm"]])
    func convertMatchesHUVolume(_ form: [String]) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        var args = ["convert", form[0].isEmpty ? Self.dicom : Self.dicom + "/" + form[0], dir + "/ct.nii.gz"]
        if form.count > 1 {
            let uid = try DICOMHeader.read(Self.dicom + "/ct_head_implicit/IM0047.dcm").seriesInstanceUID
            args += ["--series", uid]
        }
        let r = Subprocess.run([CLITests.executable] + args)
        #expect(r.status == 0, "\(r.stderr)")
        let ours = try NIfTI.read(dir + "/ct.nii.gz").volume
        let truth = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz").volume
        let c = try GridComparison(ours, against: truth)
        #expect(c.comparedVoxels == 256 * 256 * 16)
        #expect(c.affineError < 1e-3)
        #expect(c.maxAbsDifference == 0)
        #expect(ours.voxelType == .int16)
    }

    @Test("a folder with no DICOM images exits 2 with the reason")
    func emptyFolder() {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let r = CLITests.run("convert", dir, dir + "/x.nii")
        #expect(r.status == 2)
        #expect(r.stderr.contains("no image series"))
    }
}
