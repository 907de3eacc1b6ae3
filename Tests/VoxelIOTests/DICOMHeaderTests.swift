import Foundation
import Testing
import TestSupport
@testable import VoxelIO

/// DICOM headers read through the DCMTK bridge agree with dcmdump's view of the same file.
@Suite("DICOM header summary")
struct DICOMHeaderTests {
    @Test("CT_small.dcm header matches the committed sample and dcmdump")
    func ctSmall() throws {
        let h = try DICOMHeader.read(TestPaths.sampleData + "/dicom/CT_small.dcm")
        #expect(h.modality == "CT")
        #expect(h.rows == 128 && h.columns == 128)
        #expect(h.rescaleIntercept == -1024)
        #expect(h.rescaleSlope == 1)
        #expect(h.transferSyntaxUID == "1.2.840.10008.1.2.1")
        #expect(h.imagePosition == [-158.135803, -179.035797, -75.699997])
        #expect(h.pixelRepresentation == 1)
        let dump = TestPaths.sharedData + "/refs/dcmdump/CT_small.dcm.txt"
        if let text = try? String(contentsOfFile: dump, encoding: .utf8) {
            #expect(text.contains("(0028,0010) US \(h.rows)"))
            #expect(text.contains("(0028,0011) US \(h.columns)"))
            #expect(text.contains("(0020,000e) UI [\(h.seriesInstanceUID)]"))
        }
    }

    @Test("a file that is not DICOM gives an error naming it")
    func notDICOM() throws {
        let path = TestPaths.sampleData + "/nifti/format/colin3mm_pair.hdr"
        let e = #expect(throws: DICOMError.self) { try DICOMHeader.read(path) }
        #expect(e?.path == path)
        #expect(e?.description.contains(path) == true)
    }

    @Test("the malformed corpus files are reported, never crash",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: ["MR_truncated.dcm", "JPEG-lossy.dcm", "badVR.dcm", "OT-PAL-8-face.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"])
    func malformedCorpus(_ name: String) {
        let path = TestPaths.sharedData + "/dicom/conformance/" + name
        do {
            let h = try DICOMHeader.read(path)
            #expect(h.rows >= 0)  // header-only read may succeed: the damage is in the pixel data
        } catch let e as DICOMError {
            #expect(e.path == path)
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }
}
