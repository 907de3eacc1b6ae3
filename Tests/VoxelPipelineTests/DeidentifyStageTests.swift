import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// De-identification inside pipelines: the `deidentify` stage and the writers' `deidentify` option.
@Suite("deidentify in pipelines: de-identified series copy, SEG and RTSTRUCT that reference it")
struct DeidentifyStageTests {
    static let keyText = "this-is-a-secret-key-for-tests!!"

    static func pipeline(keyFile: String?) -> String {
        let key = keyFile.map { #", "keyFile": "\#($0)""# } ?? ""
        return """
        {
          "voxelflow": 1, "name": "deidentified-bone",
          "inputs": { "ct": { "type": "dicom-series", "modality": ["CT"], "caseName": "{uid}" } },
          "stages": [
            { "id": "bone", "type": "threshold", "source": "ct", "lower": 300 },
            { "id": "copy", "type": "deidentify", "reference": "ct", "profile": "basic,shift-dates"\(key) },
            { "id": "seg", "type": "write-dicom-seg", "source": "bone", "reference": "ct", "path": "bone_seg.dcm", "deidentify": "basic,shift-dates"\(key) },
            { "id": "rt", "type": "write-rtstruct", "source": "bone", "reference": "ct", "path": "bone_rt.dcm", "deidentify": "basic,shift-dates"\(key) }
          ]
        }
        """
    }

    @Test("the SEG and RTSTRUCT reference the de-identified copy of the series, and no original identifier is left in them")
    func consistentOutputs() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Self.keyText.write(toFile: root + "/key.txt", atomically: true, encoding: .utf8)
        try Data(Self.pipeline(keyFile: "key.txt").utf8).write(to: URL(fileURLWithPath: root + "/p.json"))
        let series = TestPaths.sampleData + "/dicom/ct_head_implicit"
        let r = PipelineFixtures.cli(["run", root + "/p.json", "-i", series, "-o", root + "/out", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        let cases = try FileManager.default.contentsOfDirectory(atPath: root + "/out/cases").filter { !$0.hasPrefix(".") }
        let caseDir = root + "/out/cases/" + (try #require(cases.first))
        let original = try #require(DICOMScanner.scan(series).stacks.first)
        let copy = try #require(DICOMScanner.scan(caseDir + "/deidentified").stacks.first)
        let key = try DeidentificationKey(text: Self.keyText)
        #expect(copy.slices.count == original.slices.count)
        #expect(copy.header.seriesInstanceUID == key.uid(for: original.header.seriesInstanceUID))
        #expect(copy.header.patientID == key.pseudonym(for: original.header.patientID))
        #expect(try copy.volume().voxels == original.volume().voxels)
        // The SEG lies on the copy: same frame of reference, its frames reference the copy's instances.
        let seg = try DICOMSegmentation.read(caseDir + "/bone_seg.dcm", reference: copy)
        #expect(seg.referencedSeriesUID == copy.header.seriesInstanceUID)
        #expect(seg.labels.labelsPresent().contains(1))
        let rt = try DICOMRTStruct.read(caseDir + "/bone_rt.dcm", reference: copy)
        #expect(rt.labels.labelsPresent().contains(1))
        // Nothing identifying in any DICOM output.
        let identifiers = [original.header.patientID, original.header.seriesInstanceUID, original.header.studyInstanceUID,
                           original.header.frameOfReferenceUID].filter { $0.count >= 6 }
        let dicomFiles = ((FileManager.default.enumerator(atPath: caseDir)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".dcm") }
        #expect(dicomFiles.count == original.slices.count + 2)
        for file in dicomFiles {
            let bytes = Array(FileManager.default.contents(atPath: caseDir + "/" + file) ?? Data())
            for id in identifiers { #expect(bytes.firstRange(of: Array(id.utf8)) == nil, "\(file) holds \(id)") }
        }
    }

    @Test("a de-identifying writer without a key, or with an unknown profile, fails validation with the reason")
    func validation() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try Data(Self.pipeline(keyFile: nil).utf8).write(to: URL(fileURLWithPath: root + "/p.json"))
        let noKey = PipelineFixtures.cli(["validate", root + "/p.json"])
        #expect(noKey.status != 0 && noKey.stderr.contains("VOXELFLOW_DEID_KEY"), "\(noKey.stderr)")
        try Self.keyText.write(toFile: root + "/key.txt", atomically: true, encoding: .utf8)
        let bad = Self.pipeline(keyFile: "key.txt").replacingOccurrences(of: #""profile": "basic,shift-dates""#, with: #""profile": "basic,keep-names""#)
        try Data(bad.utf8).write(to: URL(fileURLWithPath: root + "/p.json"))
        let unknown = PipelineFixtures.cli(["validate", root + "/p.json"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown profile option 'keep-names'"), "\(unknown.stderr)")
    }
}
