import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO

/// `convert` never writes over its input or over a file that exists without `--force`, and refuses DICOM
/// objects that are not images by name.
@Suite("voxelflow convert: never lose a file")
struct CLIConvertSafetyTests {
    static func run(_ args: String...) -> Subprocess.Result {
        Subprocess.run([TestPaths.voxelflowExecutable] + args)
    }

    static func copyInput(_ dir: String, _ name: String = "in.nii") throws -> String {
        let path = "\(dir)/\(name)"
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/nifti/format/colin3mm_n1_int16.nii", toPath: path)
        return path
    }

    @Test("convert X X is refused, even with --force, and X is unchanged")
    func sameFile() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let input = try Self.copyInput(dir)
        let before = FileManager.default.contents(atPath: input)
        for extra in [[], ["--force"]] {
            let r = Subprocess.run([TestPaths.voxelflowExecutable, "convert", input, input] + extra)
            #expect(r.status == 3, "\(r.stderr)")
            #expect(r.stderr.contains("would overwrite the input"), "\(r.stderr)")
        }
        #expect(FileManager.default.contents(atPath: input) == before)
    }

    @Test("an output reaching the input through a symbolic link, a hard link or ./ is refused")
    func sameFileThroughLinks() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let input = try Self.copyInput(dir)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.nii", withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: dir + "/hard.nii")
        let before = FileManager.default.contents(atPath: input)
        for output in [dir + "/link.nii", dir + "/hard.nii", dir + "/./in.nii"] {
            let r = Self.run("convert", input, output, "--force")
            #expect(r.status == 3 && r.stderr.contains("would overwrite the input"), "\(output): \(r.stderr)")
        }
        #expect(FileManager.default.contents(atPath: input) == before)
    }

    @Test("a .hdr/.img pair is refused as output when either half is the input")
    func pairHalves() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let nii = try Self.copyInput(dir)
        #expect(Self.run("convert", nii, dir + "/pair.hdr", "-q").status == 0)
        let hdr = FileManager.default.contents(atPath: dir + "/pair.hdr"), img = FileManager.default.contents(atPath: dir + "/pair.img")
        for output in [dir + "/pair.img", dir + "/pair.hdr"] {
            let r = Self.run("convert", dir + "/pair.hdr", output, "--force")
            #expect(r.status == 3 && r.stderr.contains("would overwrite the input"), "\(r.stderr)")
        }
        // A .nii input whose output pair would put its .img on the input is refused too.
        try FileManager.default.createSymbolicLink(atPath: dir + "/other.img", withDestinationPath: nii)
        let r = Self.run("convert", nii, dir + "/other.hdr", "--force")
        #expect(r.status == 3 && r.stderr.contains("other.img"), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/pair.hdr") == hdr && FileManager.default.contents(atPath: dir + "/pair.img") == img)
    }

    @Test("an existing output is kept unless --force replaces it")
    func existingOutput() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let input = try Self.copyInput(dir)
        try "precious".write(toFile: dir + "/out.nii.gz", atomically: true, encoding: .utf8)
        let r = Self.run("convert", input, dir + "/out.nii.gz")
        #expect(r.status == 3 && r.stderr.contains("already exists; use --force"), "\(r.stderr)")
        #expect((try? String(contentsOfFile: dir + "/out.nii.gz", encoding: .utf8)) == "precious")
        #expect(Self.run("convert", input, dir + "/out.nii.gz", "--force", "-q").status == 0)
        #expect(try NIfTI.read(dir + "/out.nii.gz").volume.voxels == NIfTI.read(input).volume.voxels)
    }

    @Test("a DICOM output written over a slice of the input series is refused")
    func dicomInputSlice() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let source = TestPaths.sampleData + "/dicom/ct_head_implicit"
        try FileManager.default.copyItem(atPath: source, toPath: dir + "/series")
        try FileManager.default.createSymbolicLink(atPath: dir + "/slice.nii", withDestinationPath: dir + "/series/IM0050.dcm")
        let before = FileManager.default.contents(atPath: dir + "/series/IM0050.dcm")
        let r = Self.run("convert", dir + "/series", dir + "/slice.nii", "--force")
        #expect(r.status == 3 && r.stderr.contains("would overwrite the input"), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/series/IM0050.dcm") == before)
    }

    @Test("info names a SEG or RTSTRUCT as an object instead of a 0x0 frame",
          arguments: ["dicom/seg/pydicom_liver.dcm", "dicom/seg/ct_head_bone_seg_binary.dcm", "dicom/conformance/rtstruct.dcm"])
    func nonImageObjects(_ file: String) throws {
        let path = TestPaths.sharedData + "/" + file
        guard TestPaths.exists(path) else { print("skipped: \(TestPaths.sharedDataMissing)"); return }
        let kind = file.contains("rtstruct") ? "RT Structure Set" : "Segmentation"
        let info = Self.run("info", path)
        #expect(info.status == 0 && info.stdout.contains("object") && info.stdout.contains(kind), "\(info.stdout)")
        #expect(!info.stdout.contains("0 x 0"))
        let json = Self.run("info", "--json", path)
        #expect(json.stdout.contains("\"objectKind\": \"\(kind)"), "\(json.stdout)")
    }

    @Test("real SEGs of the corpus convert to the label map highdicom reads from them, little and big endian alike",
          .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)),
          arguments: ["dicom/seg/pydicom_liver.dcm", "dicom/seg/ct_head_bone_seg_binary.dcm"])
    func corpusSEGs(_ file: String) throws {
        let path = TestPaths.sharedData + "/" + file
        guard TestPaths.exists(path) else { print("skipped: \(TestPaths.sharedDataMissing)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let r = Subprocess.run([TestPaths.voxelflowExecutable, "convert", path, dir + "/out.nii.gz"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(TestPaths.exists(dir + "/out.labels.json"))
        let python = try #require(TestPaths.oraclePython)
        let check = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/seg_volume_reference.py", path, dir + "/out.nii.gz"])
        try #require(check.status == 0, "\(check.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect(json["differing"] as? Int == 0 && json["outside"] as? Int == 0, "\(check.stdout)")
        #expect((json["ours"] as? [String: Int])?.isEmpty == false)
        // The big-endian copy of the same SEG (highdicom cannot read it) gives the same file.
        let bigEndian = path.replacingOccurrences(of: ".dcm", with: "_expb.dcm")
        if TestPaths.exists(bigEndian) {
            #expect(Subprocess.run([TestPaths.voxelflowExecutable, "convert", bigEndian, dir + "/be.nii.gz"]).status == 0)
            #expect(FileManager.default.contents(atPath: dir + "/be.nii.gz") == FileManager.default.contents(atPath: dir + "/out.nii.gz"))
        }
    }

    @Test("a SEG converts to a label map and its table as a pair: when the table cannot be written, no label map is left")
    func labelMapPair() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(TestPaths.sampleData + "/dicom/ct_head_implicit").stacks.first)
        var values = [UInt8](repeating: 0, count: stack.geometry().voxelCount)
        for i in stride(from: 0, to: values.count, by: 7) { values[i] = 1 }
        try DICOMSegmentation.write(try LabelMap(Volume(geometry: stack.geometry(), voxels: .uint8(values))), reference: stack, to: dir + "/seg.dcm")
        // The table's name is taken by a folder: the label map written first is removed again.
        try FileManager.default.createDirectory(atPath: dir + "/out.labels.json", withIntermediateDirectories: false)
        let r = Subprocess.run([TestPaths.voxelflowExecutable, "convert", dir + "/seg.dcm", dir + "/out.nii.gz", "--force"])
        #expect(r.status == 3 && r.stderr.contains("out.labels.json"), "\(r.stderr)")
        #expect(!TestPaths.exists(dir + "/out.nii.gz"))
        try FileManager.default.removeItem(atPath: dir + "/out.labels.json")
        let ok = Subprocess.run([TestPaths.voxelflowExecutable, "convert", dir + "/seg.dcm", dir + "/out.nii.gz"])
        #expect(ok.status == 0 && TestPaths.exists(dir + "/out.nii.gz") && TestPaths.exists(dir + "/out.labels.json"), "\(ok.stderr)")
    }

    @Test("an RTSTRUCT without --reference, and a SEG whose frames and functional groups disagree, are refused with the reason")
    func unusableObjects() throws {
        let rt = TestPaths.sharedData + "/dicom/conformance/rtstruct.dcm", seg = TestPaths.sharedData + "/dicom/seg/pydicom_liver_1frame.dcm"
        guard TestPaths.exists(rt) else { print("skipped: \(TestPaths.sharedDataMissing)"); return }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let a = Subprocess.run([TestPaths.voxelflowExecutable, "convert", rt, dir + "/out.nii.gz"])
        #expect(a.status == 2 && a.stderr.contains("--reference"), "\(a.stderr)")
        let b = Subprocess.run([TestPaths.voxelflowExecutable, "convert", seg, dir + "/out.nii.gz"])
        #expect(b.status == 2 && b.stderr.contains("1 frames of pixel data but 3 per-frame functional groups"), "\(b.stderr)")
        #expect(!TestPaths.exists(dir + "/out.nii.gz") && !TestPaths.exists(dir + "/out.labels.json"))
    }
}

/// `voxelflow export-seg` as a user runs it.
@Suite("voxelflow export-seg")
struct CLIExportSegTests {
    static let series = TestPaths.sampleData + "/dicom/ct_head_implicit"

    static func run(_ args: [String]) -> Subprocess.Result { Subprocess.run([TestPaths.voxelflowExecutable, "export-seg"] + args) }

    /// A bone mask (> 300 HU) of the sample series, as NIfTI.
    static func boneMask(in dir: String) throws -> String {
        let volume = try #require(try DICOMScanner.scan(series).stacks.first).volume()
        var values = [UInt8](repeating: 0, count: volume.voxels.count)
        for i in 0..<values.count where volume.scaling.apply(volume.voxels.value(at: i)) > 300 { values[i] = 1 }
        let path = dir + "/bone.nii.gz"
        try NIfTI.write(Volume(geometry: volume.geometry, voxels: .uint8(values)), to: path)
        return path
    }

    @Test("writes a SEG named from the shipped label table; empty frames are left out unless asked for")
    func writes() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let mask = try Self.boneMask(in: dir)
        let table = dir + "/table.json"
        try #"{"labels": [{"value": 1, "name": "Bone", "type": {"scheme": "SCT", "value": "272673000", "meaning": "Bone"}}]}"#
            .write(toFile: table, atomically: true, encoding: .utf8)
        let r = Self.run([mask, "--reference", Self.series, "-o", dir + "/seg.dcm", "--label-table", table])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1 segment, 16 frames"), "\(r.stdout)")
        let header = try DICOMHeader.read(dir + "/seg.dcm")
        #expect(header.sopClassUID == DICOMSOPClass.segmentation && header.modality == "SEG")
        let again = Self.run([mask, "--reference", Self.series, "-o", dir + "/seg.dcm"])
        #expect(again.status == 3 && again.stderr.contains("already exists; use --force"), "\(again.stderr)")
        let overInput = Self.run([mask, "--reference", Self.series, "-o", mask, "--force"])
        #expect(overInput.status == 3 && overInput.stderr.contains("would overwrite the input"), "\(overInput.stderr)")
        // A mask with an empty slice: 15 frames, or 16 with --keep-empty-frames.
        var image = try NIfTI.read(mask).volume
        let n = image.geometry.size.x * image.geometry.size.y
        var values = [UInt8](repeating: 0, count: image.voxels.count)
        for i in n..<values.count { values[i] = UInt8(image.voxels.value(at: i)) }
        image = try Volume(geometry: image.geometry, voxels: .uint8(values))
        try NIfTI.write(image, to: dir + "/cut.nii.gz")
        #expect(Self.run([dir + "/cut.nii.gz", "--reference", Self.series, "-o", dir + "/a.dcm"]).stdout.contains("15 frames"))
        #expect(Self.run([dir + "/cut.nii.gz", "--reference", Self.series, "-o", dir + "/b.dcm", "--keep-empty-frames"]).stdout.contains("16 frames"))
    }

    @Test("a label map on another grid is refused with both grids named, or resampled with --resample")
    func otherGrid() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let mask = try NIfTI.read(try Self.boneMask(in: dir)).volume
        var shifted = mask
        shifted.geometry.origin += SIMD3(5, 0, 0)
        try NIfTI.write(shifted, to: dir + "/shifted.nii.gz")
        let r = Self.run([dir + "/shifted.nii.gz", "--reference", Self.series, "-o", dir + "/seg.dcm"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("is not the series' grid") && r.stderr.contains("-117.0") && r.stderr.contains("-122.0"), "\(r.stderr)")
        #expect(!TestPaths.exists(dir + "/seg.dcm"))
        let resampled = Self.run([dir + "/shifted.nii.gz", "--reference", Self.series, "-o", dir + "/seg.dcm", "--resample"])
        #expect(resampled.status == 0, "\(resampled.stderr)")
    }
}
