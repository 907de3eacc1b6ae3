import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelTransforms

/// `Resample` with MONAI's size rule against MONAI's `Spacing` (Tests/Fixtures/bundles/spacingd_*.nii.gz, exported by
/// scripts/oracles/make_bundle_fixture.py): a small random volume whose output size is rounded up on two axes, so
/// that the last output voxels lie beyond the input's last voxel centre, where MONAI takes the border's values.
@Suite("Resampling as MONAI's Spacingd")
struct SpacingdParityTests {
    @Test("size = round((n − 1) × old / new + 1) and the values of MONAI's bilinear Spacing within 1e-3, the border voxels included")
    func spacingd() throws {
        let dir = TestPaths.repositoryRoot + "/Tests/Fixtures/bundles"
        let input = try NIfTI.read(dir + "/spacingd_input.nii.gz").volume
        let monai = try NIfTI.read(dir + "/spacingd_output.nii.gz").volume
        let (ours, _) = try Resample(spacing: [1.1, 1.0, 1.7], interpolation: .linear, sizeRule: .centres).apply(input)
        #expect(ours.geometry.size == monai.geometry.size)
        #expect(ours.geometry.size == SIMD3(11, 12, 9))
        let grid = try GridComparison(ours, against: monai)
        #expect(grid.affineError < 1e-4)
        let a = ours.physicalFloats(), b = monai.physicalFloats()
        let worst = zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst < 1e-3, "largest difference \(worst)")
        // The extent rule (SimpleITK's) gives one slice fewer along k.
        let extent = try Resample(spacing: [1.1, 1.0, 1.7], interpolation: .linear).plan(for: input.geometry)
        #expect(extent.size == SIMD3(11, 12, 8))
    }

    @Test("a size that falls on a half rounds to even, as NumPy's round in MONAI's compute_shape_offset")
    func halvesToEven() throws {
        // 108 slices of 1.5 mm to 3 mm: 107 × 0.5 + 1 = 54.5 → 54 (MONAI's Spacingd); 110 slices: 55.5 → 56.
        let resample = try Resample(spacing: [1, 1, 3], interpolation: .linear, sizeRule: .centres)
        #expect(resample.plan(for: Geometry(size: SIMD3(4, 4, 108), spacing: SIMD3(1, 1, 1.5))).size.z == 54)
        #expect(resample.plan(for: Geometry(size: SIMD3(4, 4, 110), spacing: SIMD3(1, 1, 1.5))).size.z == 56)
    }
}
