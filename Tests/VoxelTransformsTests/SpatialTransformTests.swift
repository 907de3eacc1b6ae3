import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
@testable import VoxelTransforms

@Suite("Reorientation, crop and pad")
struct SpatialTransformTests {
    static let files = ["nifti/ct_head_hu.nii.gz", "nifti/format/nibabel_anatomical.nii",
                        "nifti/format/nibabel_example4d.nii.gz", "nifti/format/colin3mm_n1_oblique.nii.gz",
                        "nifti/format/nibabel_reoriented_anat_moved.nii"]

    static func load(_ name: String) throws -> Volume { try NIfTI.read(TestPaths.sampleData + "/" + name).volume }

    @Test("reorienting to RAS matches nibabel's as_closest_canonical (voxels and affine)",
          .enabled(if: TransformOracle.available, Comment(rawValue: TestPaths.oracleMissing)), arguments: files)
    func matchesNibabelCanonical(_ name: String) throws {
        let volume = try Self.load(name)
        let (ras, _) = try Reorient(target: "RAS").apply(volume)
        let oracle = try TransformOracle.run(["canonical", TestPaths.sampleData + "/" + name])
        let affine = try #require(oracle.json["affine"] as? [[Double]])
        #expect(ras.geometry.affine.flippingLPSandRAS.maxAbsDifference(toRows: affine) < 1e-4)
        let ours = ras.voxels.withUnsafeBytes { Data($0) }
        #expect(ours == oracle.bytes, "voxels differ from nibabel's canonical array")
    }

    @Test("reorient then inverse gives back the original voxels and affine exactly",
          arguments: ["RAS", "LPS", "LAI", "SPR", "IRP"])
    func reorientInverts(_ code: String) throws {
        let volume = try Self.load("nifti/format/nibabel_example4d.nii.gz")
        let (moved, inverse) = try Reorient(target: code).apply(volume)
        #expect(moved.geometry.orientationCode == code)
        let back = try inverse.apply(moved)
        #expect(back.voxels == volume.voxels)
        #expect(back.geometry.affine.maxAbsDifference(to: volume.geometry.affine) < 1e-9)
    }

    @Test("every reoriented voxel holds the value of the input voxel at the same world position",
          arguments: ["SPR", "IRP", "PSL", "ASR", "RAS"])
    func reorientKeepsWorldPositions(_ code: String) throws {
        let volume = try Self.load("nifti/ct_head_hu.nii.gz")
        let (moved, _) = try Reorient(target: code).apply(volume)
        let toInput = try #require(volume.geometry.affine.inverse)
        let s = moved.geometry.size
        var mismatches = 0
        for n in stride(from: 0, to: s.x * s.y * s.z, by: 97) {
            let index = SIMD3(Double(n % s.x), Double(n / s.x % s.y), Double(n / (s.x * s.y)))
            let source = toInput.apply(moved.geometry.worldPoint(atIndex: index))
            let i = Int(source.x.rounded()), j = Int(source.y.rounded()), k = Int(source.z.rounded())
            if abs(source.x - Double(i)) > 1e-6 || abs(source.y - Double(j)) > 1e-6 || abs(source.z - Double(k)) > 1e-6
                || moved.value(n % s.x, n / s.x % s.y, n / (s.x * s.y)) != volume.value(i, j, k) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("pad then inverse is exact; crop keeps world positions; a landmark survives a chain")
    func cropPadInverse() throws {
        let volume = try Self.load("nifti/format/colin3mm_n1_oblique.nii.gz")
        let pad = try CropOrPad(size: [70, 80, 64]).plan(for: volume.geometry)
        let padded = try pad.apply(volume, fill: -5)
        #expect(padded.value(0, 0, 0) == -5)
        let back = try pad.inverse.apply(padded)
        #expect(back.voxels == volume.voxels)
        #expect(back.geometry.affine.maxAbsDifference(to: volume.geometry.affine) < 1e-9)
        // A chain: reorient, crop, pad; the inverse chain in reverse order restores the grid.
        let (r, rInverse) = try Reorient(target: "LPI").apply(volume)
        let crop = try CropOrPad(size: [40, 50, 30]).plan(for: r.geometry)
        let c = try crop.apply(r)
        let landmark = SIMD3<Double>(-10, 12, 18)  // world mm (LPS), inside the cropped region
        let before = try #require(volume.geometry.continuousIndex(ofWorldPoint: landmark))
        let after = try #require(c.geometry.continuousIndex(ofWorldPoint: landmark))
        let i0 = volume.geometry.worldPoint(atIndex: before.rounded(.toNearestOrAwayFromZero))
        let i1 = c.geometry.worldPoint(atIndex: after.rounded(.toNearestOrAwayFromZero))
        let gap = i0 - i1
        #expect((gap * gap).sum().squareRoot() < 1e-6, "the same voxel centre in world space")
        let restored = try rInverse.apply(crop.inverse.apply(c))
        #expect(restored.geometry.affine.maxAbsDifference(to: volume.geometry.affine) < 1e-9)
    }

    @Test("crop to foreground keeps every foreground voxel and its position")
    func cropForeground() throws {
        let ct = try Self.load("nifti/ct_head_hu.nii.gz")
        let window = try CropForeground(threshold: -300, margin: 2).plan(for: ct)
        let cropped = try window.apply(ct)
        #expect(cropped.geometry.voxelCount < ct.geometry.voxelCount)
        let restored = try window.inverse.apply(cropped, fill: -1024)
        var lost = 0
        for n in stride(from: 0, to: ct.voxels.count, by: 7) where ct.voxels.value(at: n) > -300 && restored.voxels.value(at: n) != ct.voxels.value(at: n) { lost += 1 }
        #expect(lost == 0)
        #expect(restored.geometry.affine.maxAbsDifference(to: ct.geometry.affine) < 1e-9)
    }

    @Test("bad parameters are refused with the reason")
    func badParameters() {
        #expect(throws: TransformError.self) { try Reorient(target: "RRS") }
        #expect(throws: TransformError.self) { try CropOrPad(size: [0, 1, 1]) }
        #expect(throws: TransformError.self) { try ScaleIntensityRange.ctWindow(level: 40, width: 0) }
    }
}
