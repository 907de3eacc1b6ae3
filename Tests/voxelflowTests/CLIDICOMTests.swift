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

    /// The DWI fixture's three MOSAIC files, decompressed into `dir`.
    static func dwiSeries(into dir: String) throws {
        let fixture = TestPaths.repositoryRoot + "/Tests/Fixtures/dicom/siemens-dwi"
        for name in ["dwi_0.dcm", "dwi_1000.dcm", "dwi_1000_repeat.dcm"] {
            let packed = try Data(contentsOf: URL(fileURLWithPath: fixture + "/" + name + ".gz"))
            let bytes = try packed.withUnsafeBytes { try Gzip.inflatePrefix($0, maxBytes: 8 << 20) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    }

    @Test("convert into a folder names the files as dcm2niix's -f does and writes sidecar, .bval and .bvec")
    func convertDiffusionIntoFolder() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try Self.dwiSeries(into: dir + "/in")
        let r = CLITests.run("convert", dir + "/in", dir + "/out")
        #expect(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
        // dcm2niix -f %p_%s names the same series CBU_DTI_64D_1A_12 (the committed oracle folder).
        #expect(names == ["CBU_DTI_64D_1A_12.bval", "CBU_DTI_64D_1A_12.bvec", "CBU_DTI_64D_1A_12.json", "CBU_DTI_64D_1A_12.nii.gz"])
        #expect(try NIfTI.read(dir + "/out/CBU_DTI_64D_1A_12.nii.gz").volume.shape == [128, 128, 48, 3])
        let sidecar = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/CBU_DTI_64D_1A_12.json"))) as? [String: Any])
        #expect(sidecar["ConversionSoftware"] as? String == "voxelflow")
        #expect(sidecar["PatientID"] == nil && sidecar["StationName"] == nil)
        #expect(try String(contentsOfFile: dir + "/out/CBU_DTI_64D_1A_12.bval", encoding: .utf8) == "0 1000 1000\n")

        // A second run refuses to replace the outputs and changes nothing; --force replaces them.
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/CBU_DTI_64D_1A_12.bvec"))
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/out/CBU_DTI_64D_1A_12.bvec"))
        let again = CLITests.run("convert", dir + "/in", dir + "/out")
        #expect(again.status == 3 && again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(try String(contentsOfFile: dir + "/out/CBU_DTI_64D_1A_12.bvec", encoding: .utf8) == "mine")
        #expect(CLITests.run("convert", dir + "/in", dir + "/out", "--force").status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/CBU_DTI_64D_1A_12.bvec")) == before)

        // Another template, no sidecar; --name with a file OUTPUT is refused.
        let named = CLITests.run("convert", dir + "/in", dir + "/out/", "--name", "dwi_%4s_%z", "--no-sidecar")
        #expect(named.status == 0, "\(named.stderr)")
        #expect(TestPaths.exists(dir + "/out/dwi_0012_ep_b0.nii.gz") && TestPaths.exists(dir + "/out/dwi_0012_ep_b0.bval"))
        #expect(!TestPaths.exists(dir + "/out/dwi_0012_ep_b0.json"))
        let refused = CLITests.run("convert", dir + "/in", dir + "/x.nii.gz", "--name", "%p")
        #expect(refused.status != 0 && refused.stderr.contains("--name applies when OUTPUT is a folder"))
        let unknown = CLITests.run("convert", dir + "/in", dir + "/out", "--name", "%q")
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown specifier %q"), "\(unknown.stderr)")
    }

    @Test("the CT sidecar agrees with dcm2niix's on the fields both write")
    func ctSidecar() throws {
        let reference = TestPaths.sharedData + "/refs/dcm2niix/ct_head_implicit/ct_head_implicit.json"
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let r = CLITests.run("convert", Self.dicom + "/ct_head_implicit", dir + "/ct.nii.gz")
        #expect(r.status == 0, "\(r.stderr)")
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ct.json"))) as? [String: Any])
        #expect(ours["Modality"] as? String == "CT")
        guard TestPaths.exists(reference) else { return }  // the shared corpus holds dcm2niix's sidecar
        let theirs = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reference))) as? [String: Any])
        // Manufacturer is left out: dcm2niix names this file's "medcorpus" "Mediso" from its first letters.
        for key in ["Modality", "BodyPartExamined", "SeriesDescription", "ProtocolName"] {
            #expect(ours[key] as? String == theirs[key] as? String, "\(key)")
        }
        for key in ["SeriesNumber", "SliceThickness", "SpacingBetweenSlices"] {
            #expect((ours[key] as? NSNumber)?.doubleValue == (theirs[key] as? NSNumber)?.doubleValue, "\(key)")
        }
        #expect(ours["ImageType"] as? [String] == theirs["ImageType"] as? [String])
    }

}
