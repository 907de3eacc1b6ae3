import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// Every decodable corpus file gives pydicom's pixels; malformed files fail cleanly.
@Suite("DICOM pixel decoding agrees with pydicom")
struct DICOMPixelConformanceTests {
    static let references = PixelReference.all()

    static func shape(_ p: DICOMPixelData) -> String {
        var dims: [Int] = []
        if p.frames > 1 { dims.append(p.frames) }
        dims += [p.rows, p.columns]
        if p.samplesPerPixel > 1 { dims.append(p.samplesPerPixel) }
        return dims.map(String.init).joined(separator: "x")
    }

    static func stats(_ a: VoxelArray) -> (min: Double, max: Double, mean: Double) {
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0
        let n = a.count == 0 ? 1 : (a.type == .rgb24 ? a.count * 3 : a.count)
        for i in 0..<a.count { let v = a.value(at: i); lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += v }
        return (lo, hi, sum / Double(n))
    }

    @Test("corpus files decode to pydicom's pixel hash",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: references.filter { $0.sha256 != nil })
    func decodesLikePydicom(_ ref: PixelReference) throws {
        let path = TestPaths.sharedData + "/" + ref.path
        if let reason = DICOMConformance.knownDifferences[ref.path] {
            withKnownIssue(Comment(rawValue: reason)) {
                let pixels = try DICOMPixels.decode(path)
                #expect(pixels.samples.withUnsafeBytes { SHA256.hex($0) } == ref.sha256)
            }
            return
        }
        let pixels = try DICOMPixels.decode(path)
        #expect(Self.shape(pixels) == ref.shape)
        #expect(pixels.samples.type.rawValue == ref.dtype)
        let hash = pixels.samples.withUnsafeBytes { SHA256.hex($0) }
        if DICOMConformance.lossyJPEG.contains(pixels.transferSyntaxUID) {
            // Lossy JPEG: IJG (DCMTK) and libjpeg (pydicom) may round the IDCT differently.
            let s = Self.stats(pixels.samples)
            #expect(abs(s.mean - (ref.mean ?? 0)) <= 1.0, "mean \(s.mean) vs \(ref.mean ?? 0)")
        } else {
            #expect(hash == ref.sha256, "decoded pixels differ from pydicom's")
        }
    }

    @Test("malformed corpus files fail with an error naming the file",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: references.filter { $0.sha256 == nil })
    func malformedFailsCleanly(_ ref: PixelReference) {
        let path = TestPaths.sharedData + "/" + ref.path
        do {
            _ = try DICOMPixels.decode(path)
        } catch let e as DICOMError {
            #expect(e.path == path)
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }
}

enum DICOMConformance {
    /// Files where VoxelFlow knowingly differs from pydicom, with the reason (shown as known issues).
    static let knownDifferences: [String: String] = [
        "dicom/conformance/SC_rgb_jpeg.dcm": "DCMTK cannot parse this file ('premature end of stream'; the corpus's dcmdump of it is empty too); pydicom tolerates it",
    ]
    static let lossyJPEG: Set<String> = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"]
}
