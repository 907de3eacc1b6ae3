import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO

extension NibabelReference: CustomTestStringConvertible {}

/// Every NIfTI file of the shared corpus and of sample-data reads as nibabel reads it.
@Suite("NIfTI reading agrees with nibabel")
struct NIfTIOracleTests {
    static let references = NibabelReference.committed()
    static let sampleReferences = references.filter { $0.path.hasPrefix("sample-data/") }
    static let corpusReferences = references.filter { !$0.path.hasPrefix("sample-data/") }

    @Test("committed references cover the sample data and the corpus")
    func referencesAreCommitted() {
        #expect(Self.sampleReferences.count >= 19)
        #expect(Self.corpusReferences.count >= 30)
    }

    @Test("sample-data files read with nibabel's shape, affine and voxels", arguments: sampleReferences)
    func sampleFileMatchesNibabel(_ ref: NibabelReference) throws {
        try checkAgainst(ref)
    }

    @Test("shared-corpus files read with nibabel's shape, affine and voxels",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: corpusReferences)
    func corpusFileMatchesNibabel(_ ref: NibabelReference) throws {
        try checkAgainst(ref)
    }

    func checkAgainst(_ ref: NibabelReference) throws {
        let image = try NIfTI.read(ref.localPath)
        let v = image.volume
        let padded = ref.shape + Array(repeating: 1, count: max(0, 4 - ref.shape.count))
        #expect(v.shape == Array(padded.prefix(4)))
        #expect(v.voxelType.rawValue == ref.dtype)
        let ras = v.geometry.affine.flippingLPSandRAS
        #expect(ras.maxAbsDifference(toRows: ref.affine) <= 1e-4, "affine differs: \(ras.rows) vs \(ref.affine)")
        #expect(image.header.qformCode == ref.qform_code)
        #expect(image.header.sformCode == ref.sform_code)
        #expect(v.storedSHA256() == ref.stored_sha256, "stored voxels differ from nibabel's")
        #expect(v.scaledSHA256() == ref.scaled_sha256, "scaled voxels differ from nibabel's get_fdata()")
        let range = try #require(v.physicalRange())
        #expect(range.lowerBound == ref.min)
        #expect(range.upperBound == ref.max)
    }
}
