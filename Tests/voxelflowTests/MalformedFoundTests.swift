import Foundation
import Testing
import TestSupport

/// Every input of `Tests/Fixtures/malformed-found/` (copied from the corpus's `malformed-found/`, where a
/// mutation-fuzzing campaign found them) stays a regression test: each once crashed VoxelFlow or was
/// accepted with wrong results; each must now give a typed error (or a listed, explained rejection) that
/// names the file and the problem.
@Suite("malformed inputs found by fuzzing")
struct MalformedFoundTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var folder: String
        /// Arguments after the executable; `IN` is replaced by the case's `in/` folder, `OUT` by a fresh folder.
        var arguments: [String]
        var status: Int32
        /// Text that must appear in standard output or standard error.
        var says: [String]
        var testDescription: String { folder }
    }

    static let cases: [Case] = [
        Case(folder: "01_pixelspacing_1e308", arguments: ["scan", "IN"], status: 0,
             says: ["1 unreadable file", "CT_small.dcm: PixelSpacing (0028,0030) is unusable"]),
        Case(folder: "01b_pixelspacing_nan", arguments: ["scan", "IN"], status: 0,
             says: ["CT_small.dcm: PixelSpacing (0028,0030) is unusable: nan"]),
        Case(folder: "01d_pixelspacing_1e15", arguments: ["scan", "IN"], status: 0,
             says: ["CT_small.dcm: PixelSpacing (0028,0030) is unusable"]),
        Case(folder: "01_pixelspacing_1e308", arguments: ["convert", "IN", "OUT/out.nii.gz"], status: 2,
             says: ["no image series", "PixelSpacing (0028,0030) is unusable"]),
        Case(folder: "02_iop_1e308", arguments: ["scan", "IN"], status: 0,
             says: ["CT_small.dcm: ImageOrientationPatient (0020,0037) is unusable"]),
        Case(folder: "02_iop_1e308", arguments: ["convert", "IN", "OUT/out.nii.gz"], status: 2,
             says: ["ImageOrientationPatient (0020,0037) is unusable"]),
        Case(folder: "03_rle_segoffset_ff00079c", arguments: ["convert", "IN", "OUT/out.nii.gz"], status: 2,
             says: ["MR_small_RLE.dcm", "RLE fragment 1: segment 2 starts at byte 4278192028, outside the 6108-byte fragment"]),
        Case(folder: "03c_rle_segoffset_6109", arguments: ["convert", "IN", "OUT/out.nii.gz"], status: 2,
             says: ["MR_small_RLE.dcm", "segment 2 starts at byte 6109, outside the 6108-byte fragment"]),
        Case(folder: "04_rescale_nan_infojson", arguments: ["info", "--json", "IN/CT_small.dcm"], status: 0,
             says: ["\"rescaleSlope\": 1", "RescaleIntercept (0028,1052) is not a finite number (nan); shown as null"]),
        Case(folder: "04b_nifti_srow_inf_infojson", arguments: ["info", "--json", "IN/img.nii"], status: 2,
             says: ["img.nii: unusable geometry: the sform holds a value that is not a finite number"]),
        Case(folder: "05b_nifti_voxoffset_2p31", arguments: ["convert", "IN/img.nii", "OUT/out.nii.gz"], status: 2,
             says: ["img.nii: truncated or inconsistent file", "at offset 2147483648"]),
        Case(folder: "06b_ipp_nan_alone", arguments: ["convert", "IN", "OUT/out.nii.gz"], status: 2,
             says: ["IM0054.dcm: ImagePositionPatient (0020,0032) is unusable: nan"]),
        Case(folder: "07_safetensors_overlap_offsets", arguments: ["validate", "IN/pipeline.json"], status: 2,
             says: ["weights.safetensors", "overlaps the tensor before it"]),
        Case(folder: "07b_safetensors_shifted_window", arguments: ["validate", "IN/pipeline.json"], status: 2,
             says: ["weights.safetensors", "belong to no tensor"]),
        Case(folder: "08_json_invalid_utf8", arguments: ["validate", "IN/ct-head-tissue.json"], status: 2,
             says: ["ct-head-tissue.json:4:19:", "invalid UTF-8 byte 0xFF"]),
    ]

    @Test("each malformed input gives its typed, named error", arguments: cases)
    func malformed(_ c: Case) throws {
        let input = TestPaths.repositoryRoot + "/Tests/Fixtures/malformed-found/\(c.folder)/in"
        #expect(TestPaths.exists(input), "fixture \(input) is missing")
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let args = c.arguments.map { $0.replacingOccurrences(of: "IN", with: input).replacingOccurrences(of: "OUT", with: out) }
        let r = Subprocess.run([TestPaths.voxelflowExecutable] + args)
        #expect(r.status == c.status, "exit \(r.status): \(r.stderr)")
        let text = r.stdout + r.stderr
        for s in c.says { #expect(text.contains(s), "expected «\(s)» in: \(text)") }
        #expect(!text.contains("Fatal error") && !text.contains("internal error"))
        // A refused conversion leaves no output behind.
        if c.status != 0 { #expect(((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).isEmpty) }
    }

    @Test("the committed copies are the corpus's files, byte for byte (when the corpus is present)")
    func copiesMatchCorpus() throws {
        let corpus = TestPaths.sharedData + "/malformed-found"
        guard TestPaths.exists(corpus) else {
            print("skipped: \(TestPaths.sharedDataMissing)")
            return
        }
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: corpus).filter { !$0.hasSuffix(".md") }
        #expect(Set(names) == Set(Self.cases.map(\.folder)), "a corpus case has no regression test")
        for name in names {
            let files = try fm.subpathsOfDirectory(atPath: "\(corpus)/\(name)")
            for f in files where !f.hasSuffix("/") {
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: "\(corpus)/\(name)/\(f)", isDirectory: &isDir), !isDir.boolValue else { continue }
                let a = fm.contents(atPath: "\(corpus)/\(name)/\(f)")
                let b = fm.contents(atPath: TestPaths.repositoryRoot + "/Tests/Fixtures/malformed-found/\(name)/\(f)")
                #expect(a != nil && a == b, "\(name)/\(f) differs from the corpus")
            }
        }
    }
}
