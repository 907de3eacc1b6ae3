import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// DICOM series become the same grid and values as dcm2niix's conversion of the same head CT.
@Suite("DICOM series assembly agrees with dcm2niix",
       .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
struct DICOMSeriesTests {
    static var seriesRoot: String { TestPaths.sharedData + "/dicom/series" }

    /// dcm2niix's NIfTI of ct_head_evrle, read by VoxelIO (itself checked against nibabel).
    static func reference(_ name: String = "ct_head_evrle") throws -> Volume {
        try NIfTI.read(TestPaths.sharedData + "/refs/dcm2niix/\(name)/\(name).nii.gz").volume
    }

    /// Copies slices IM0001… of the evrle series (those in `numbers`) into `dir`.
    static func copySlices(_ numbers: some Sequence<Int>, to dir: String) throws {
        for n in numbers {
            let name = String(format: "IM%04d.dcm", n)
            try FileManager.default.copyItem(atPath: seriesRoot + "/ct_head_evrle/" + name, toPath: dir + "/" + name)
        }
    }

    /// The only stack found under `path`.
    static func onlyStack(_ path: String) throws -> DICOMStack {
        let scan = try DICOMScanner.scan(path)
        #expect(scan.unreadable.isEmpty, "\(scan.unreadable)")
        #expect(scan.stacks.count == 1)
        return try #require(scan.stacks.first)
    }

    struct Variant: Sendable, CustomTestStringConvertible {
        var name: String
        /// Largest allowed |HU difference| (0 = lossless).
        var maxError: Double
        /// The dcm2niix output compared against (its own decode of this variant where it kept one).
        var reference = "ct_head_evrle"
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "ct_head_evrle", maxError: 0), Variant(name: "ct_head_implicit", maxError: 0),
        Variant(name: "ct_head_bigendian", maxError: 0), Variant(name: "ct_head_deflate", maxError: 0),
        Variant(name: "ct_head_rle", maxError: 0), Variant(name: "ct_head_jpeg_lossless_sv1", maxError: 0),
        Variant(name: "ct_head_jpegls_lossless", maxError: 0), Variant(name: "ct_head_j2k_lossless", maxError: 0),
        Variant(name: "ct_head_jpegls_near2", maxError: 2), Variant(name: "ct_head_j2k_lossy", maxError: 0, reference: "ct_head_j2k_lossy"),
        Variant(name: "ct_head_jpeg_ext12_lossy", maxError: 100),
    ]

    @Test("every transfer-syntax variant lands on dcm2niix's grid with its HU", arguments: variants)
    func variantMatchesDcm2niix(_ variant: Variant) throws {
        let stack = try Self.onlyStack(Self.seriesRoot + "/" + variant.name)
        #expect(stack.isRegular, "\(stack.problems)")
        let volume = try stack.volume()
        let comparison = try GridComparison(volume, against: Self.reference(variant.reference))
        #expect(comparison.affineError <= 1e-3, "world coordinates differ by \(comparison.affineError) mm")
        #expect(comparison.maxAbsDifference <= variant.maxError, "max |HU difference| \(comparison.maxAbsDifference)")
        if variant.maxError == 0 && variant.reference == "ct_head_evrle" {
            #expect(volume.voxelType == .int16 && volume.scaling.isIdentity, "lossless CT is stored as int16 HU")
        } else {
            // Lossy codecs: small errors on average. An ignored RescaleIntercept would be off by ~1000 HU.
            #expect(comparison.meanAbsDifference < 3, "mean |HU difference| \(comparison.meanAbsDifference)")
        }
    }

    @Test("the legacy-converted enhanced multi-frame CT matches dcm2niix exactly")
    func enhancedMultiFrame() throws {
        let stack = try Self.onlyStack(TestPaths.sharedData + "/dicom/multiframe")
        #expect(stack.slices.count == 108)
        let comparison = try GridComparison(try stack.volume(), against: Self.reference())
        #expect(comparison.affineError <= 1e-3)
        #expect(comparison.maxAbsDifference == 0)
    }

    @Test("slice order comes from positions, not file names")
    func shuffledNames() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.seriesRoot + "/ct_head_evrle").sorted()
        var rng = SystemRandomNumberGenerator()
        for (n, name) in files.shuffled(using: &rng).enumerated() {
            try FileManager.default.copyItem(atPath: Self.seriesRoot + "/ct_head_evrle/" + name, toPath: dir + "/x\(n).dcm")
        }
        let comparison = try GridComparison(try Self.onlyStack(dir).volume(), against: Self.reference())
        #expect(comparison.affineError <= 1e-3)
        #expect(comparison.maxAbsDifference == 0)
    }

    @Test("a missing slice is reported and the stack is refused with the reason")
    func missingSlice() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try Self.copySlices((1...20).filter { $0 != 10 }, to: dir)
        let stack = try Self.onlyStack(dir)
        #expect(!stack.isRegular)
        #expect(stack.problems.contains { $0.contains("1 missing slice") })
        let error = #expect(throws: DICOMSeriesError.self) { try stack.volume() }
        #expect(error?.reason.contains("missing") == true)
    }

    @Test("a messy folder still yields the good series and names every bad file")
    func messyFolder() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try Self.copySlices(1...20, to: dir)
        let slice = try Data(contentsOf: URL(fileURLWithPath: dir + "/IM0005.dcm"))
        try slice.prefix(300).write(to: URL(fileURLWithPath: dir + "/truncated.dcm"))
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.dcm"))
        try Data("this is a text file, not DICOM\n".utf8).write(to: URL(fileURLWithPath: dir + "/notes.dcm"))
        try slice.write(to: URL(fileURLWithPath: dir + "/copy-of-IM0005.dcm"))  // duplicate slice
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/dicom/CT_small.dcm", toPath: dir + "/stray.dcm")

        let scan = try DICOMScanner.scan(dir)
        let badNames = Set(scan.unreadable.map { ($0.path as NSString).lastPathComponent })
        #expect(badNames == ["truncated.dcm", "empty.dcm", "notes.dcm"], "\(scan.unreadable)")
        #expect(scan.unreadable.allSatisfy { !$0.reason.isEmpty })
        #expect(scan.stacks.count == 2)  // the head CT and the stray image
        let head = try #require(scan.stacks.first { $0.slices.count > 1 })
        #expect(head.slices.count == 20)
        #expect(head.isRegular)
        let reference = try Self.reference()
        let comparison = try GridComparison(try head.volume(), against: reference)
        #expect(comparison.affineError <= 1e-3)
        #expect(comparison.maxAbsDifference == 0)
        #expect(comparison.comparedVoxels == 256 * 256 * 20)
    }

    @Test("1-bit DICOM SEG is not mistaken for a scan; other objects are listed")
    func nonImages() throws {
        let scan = try DICOMScanner.scan(TestPaths.sharedData + "/dicom/seg")
        #expect(scan.stacks.isEmpty)
        #expect(!scan.nonImages.isEmpty)
    }
}


/// Resampling irregular stacks onto uniform slices, when asked.
@Suite("DICOM resampling of irregular stacks",
       .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
struct DICOMResamplingTests {
    @Test("a missing slice is filled by linear interpolation of its neighbours; other slices stay exact")
    func fillsMissingSlice() throws {
        let dir = TestPaths.temporaryDirectory(), full = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir); TestPaths.removeTree(full) }
        try DICOMSeriesTests.copySlices((1...20).filter { $0 != 10 }, to: dir)
        try DICOMSeriesTests.copySlices(1...20, to: full)
        let original = try DICOMSeriesTests.onlyStack(full).volume()
        var options = DICOMVolumeOptions()
        options.resampleToUniformSpacing = true
        let resampled = try DICOMSeriesTests.onlyStack(dir).volume(options: options)
        #expect(resampled.geometry.size == original.geometry.size)
        #expect(resampled.geometry.affine.maxAbsDifference(to: original.geometry.affine) < 1e-6)
        var exact = true, interpolated = true
        for k in [0, 8, 10, 19] {
            for j in stride(from: 0, to: 256, by: 7) { for i in stride(from: 0, to: 256, by: 5) where resampled.value(i, j, k) != original.value(i, j, k) { exact = false } }
        }
        for j in stride(from: 0, to: 256, by: 3) {
            for i in stride(from: 0, to: 256, by: 3) {
                let expected = (original.value(i, j, 8) + original.value(i, j, 10)) / 2
                if abs(resampled.value(i, j, 9) - expected) > 1e-3 { interpolated = false }
            }
        }
        #expect(exact, "slices that exist must keep their values")
        #expect(interpolated, "the missing slice must be the mean of its neighbours")
    }
}

/// Colour DICOM images become RGB volumes with pydicom's samples.
@Suite("DICOM colour volumes", .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
struct DICOMColourTests {
    @Test("RGB files (native, RLE, JPEG-decoded YBR) become rgb24 volumes with pydicom's samples",
          arguments: ["SC_rgb_2frame.dcm", "SC_rgb_rle_2frame.dcm", "SC_rgb.dcm", "SC_rgb_dcmtk_+eb+cr.dcm"])
    func rgbVolume(_ name: String) throws {
        let path = TestPaths.sharedData + "/dicom/conformance/" + name
        let ref = try #require(PixelReference.all().first { $0.path == "dicom/conformance/" + name })
        let stack = try #require(try DICOMScanner.scan(path).stacks.first)
        let volume = try stack.volume()
        #expect(volume.voxelType == .rgb24)
        #expect(volume.geometry.size.x == 100 && volume.geometry.size.y == 100)
        #expect(volume.voxels.withUnsafeBytes { SHA256.hex($0) } == ref.sha256)
    }
}

/// Palette colour images become RGB volumes through their lookup tables, as pydicom maps them.
@Suite("DICOM palette colour",
       .enabled(if: TestPaths.sharedDataAvailable && TestPaths.oraclePython != nil,
                Comment(rawValue: TestPaths.sharedDataMissing + ", or " + TestPaths.oracleMissing)))
struct DICOMPaletteTests {
    @Test("palette images map to pydicom's apply_color_lut colours",
          arguments: ["conformance/examples_palette.dcm", "vendor/octave_US-PAL-8-10x-echo.dcm"])
    func paletteMatchesPydicom(_ name: String) throws {
        let path = TestPaths.sharedData + "/dicom/" + name
        let python = try #require(TestPaths.oraclePython)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/palette_reference.py", path])
        try #require(r.status == 0, "\(r.stderr)")
        let stack = try #require(try DICOMScanner.scan(path).stacks.first)
        let volume = try stack.volume()
        #expect(volume.voxelType == .rgb24)
        #expect(volume.voxels.withUnsafeBytes { SHA256.hex($0) } == r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
