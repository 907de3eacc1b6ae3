import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
@testable import VoxelTransforms

/// Resampling against SimpleITK's `Resample` on the same grid (scripts/oracles/sitk_resample.py).
@Suite("Resampling against SimpleITK", .enabled(if: TransformOracle.available, Comment(rawValue: TestPaths.oracleMissing)))
struct ResampleTests {
    static func gridJSON(_ g: Geometry) -> String {
        let d = g.direction.values.map { "\($0)" }.joined(separator: ",")
        return "{\"size\":[\(g.size.x),\(g.size.y),\(g.size.z)],\"spacing\":[\(g.spacing.x),\(g.spacing.y),\(g.spacing.z)],"
            + "\"origin\":[\(g.origin.x),\(g.origin.y),\(g.origin.z)],\"direction\":[\(d)]}"
    }

    /// SimpleITK's result on `grid`, as raw bytes.
    static func sitk(_ path: String, _ grid: Geometry, _ interpolation: Interpolation, back: Bool = false) throws -> Data {
        let dir = TestPaths.temporaryDirectory("voxelflow-sitk")
        defer { TestPaths.removeTree(dir) }
        let python = try #require(TestPaths.oraclePython)
        var args = [python, TestPaths.repositoryRoot + "/scripts/oracles/sitk_resample.py", path, gridJSON(grid), interpolation.rawValue, dir + "/out.raw"]
        if back { args.append("--back") }
        let r = Subprocess.run(args)
        try #require(r.status == 0, "\(r.stderr)")
        return try Data(contentsOf: URL(fileURLWithPath: dir + "/out.raw"))
    }

    static let files = ["nifti/ct_head_hu.nii.gz", "nifti/format/colin3mm_n1_oblique.nii.gz", "nifti/format/nibabel_anatomical.nii"]

    @Test("linear resampling to 1.5 mm agrees with SimpleITK within 1e-3 of the intensity range", arguments: files)
    func linearParity(_ name: String) throws {
        let path = TestPaths.sampleData + "/" + name
        let volume = try NIfTI.read(path).volume
        let (ours, _) = try Resample(spacing: [1.5, 1.5, 1.5], interpolation: .linear).apply(volume)
        let theirs = try Self.sitk(path, ours.geometry, .linear).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        guard case .float32(let a) = ours.voxels else { Issue.record("linear output must be float32"); return }
        try #require(a.count == theirs.count)
        let range = try #require(volume.physicalRange())
        let worst = zip(a, theirs).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(Double(worst) <= 1e-3 * (range.upperBound - range.lowerBound), "largest difference \(worst)")
    }

    @Test("cubic B-spline resampling agrees with SimpleITK's sitkBSpline within 1e-3 of the intensity range", arguments: files)
    func bsplineParity(_ name: String) throws {
        let path = TestPaths.sampleData + "/" + name
        let volume = try NIfTI.read(path).volume
        let (ours, _) = try Resample(spacing: [1.3, 1.7, 1.1], interpolation: .bspline).apply(volume)
        let theirs = try Self.sitk(path, ours.geometry, .bspline).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        guard case .float32(let a) = ours.voxels else { Issue.record("B-spline output must be float32"); return }
        try #require(a.count == theirs.count)
        let range = try #require(volume.physicalRange())
        // Output points whose input index falls exactly on the n − 0.5 edge are ties: rounding in how
        // each tool steps along a row decides inside or outside. They are left out, and counted.
        let g = ours.geometry, s = volume.geometry
        var worst: Float = 0, ties = 0
        for n in 0..<a.count {
            let index = [n % g.size.x, n / g.size.x % g.size.y, n / (g.size.x * g.size.y)]
            let onEdge = (0..<3).contains { c in
                abs(Double(index[c]) * g.spacing[c] / s.spacing[c] - (Double(s.size[c]) - 0.5)) < 1e-9
            }
            if onEdge { ties += 1; continue }
            worst = max(worst, abs(a[n] - theirs[n]))
        }
        #expect(ties < a.count / 50)
        #expect(Double(worst) <= 1e-3 * (range.upperBound - range.lowerBound), "largest difference \(worst)")
        // Not linear: the two interpolators must differ somewhere on real data.
        let (linear, _) = try Resample(spacing: [1.3, 1.7, 1.1], interpolation: .linear).apply(volume)
        guard case .float32(let l) = linear.voxels else { return }
        #expect(zip(a, l).contains { abs($0 - $1) > 1e-2 })
    }

    @Test("a B-spline passes through the voxel values: resampling onto the same grid changes nothing")
    func bsplineInterpolates() throws {
        let volume = try NIfTI.read(TestPaths.sampleData + "/nifti/format/colin3mm_n1_oblique.nii.gz").volume
        let same = try ResampleToGrid(target: volume.geometry, interpolation: .bspline).apply(volume)
        guard case .float32(let a) = same.voxels else { Issue.record("float32 expected"); return }
        let range = try #require(volume.physicalRange())
        let worst = (0..<a.count).reduce(0.0) { max($0, abs(Double(a[$1]) - volume.scaling.apply(volume.voxels.value(at: $1)))) }
        #expect(worst <= 1e-5 * (range.upperBound - range.lowerBound), "\(worst)")
    }

    @Test("nearest resampling is identical to SimpleITK's", arguments: files)
    func nearestParity(_ name: String) throws {
        let path = TestPaths.sampleData + "/" + name
        let volume = try NIfTI.read(path).volume
        let (ours, _) = try Resample(spacing: [1.7, 1.3, 2.1], interpolation: .nearest).apply(volume)
        let theirs = try Self.sitk(path, ours.geometry, .nearest)
        #expect(ours.voxelType == volume.voxelType)
        let frame = ours.geometry.voxelCount * volume.voxelType.byteSize
        #expect(ours.voxels.withUnsafeBytes { Data($0.prefix(frame)) } == theirs)
    }

    @Test("resampling to 1.5 mm and back lands exactly on the original grid")
    func inverseGrid() throws {
        let volume = try NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz").volume
        let (coarse, back) = try Resample(spacing: [1.5, 1.5, 1.5]).apply(volume, fill: -1024)
        let restored = try back.apply(coarse)
        #expect(restored.geometry.size == volume.geometry.size)
        #expect(restored.geometry.affine.maxAbsDifference(to: volume.geometry.affine) == 0)
    }

    @Test("AAL labels: a 1.5 mm nearest round trip agrees with SimpleITK's round trip on ≥ 99% of voxels",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
    func aalRoundTrip() throws {
        let path = TestPaths.sharedData + "/nifti/colin27/aal.nii.gz"
        let labels = try LabelMap(NIfTI.read(path).volume)
        let (coarse, back) = try Resample(spacing: [1.5, 1.5, 1.5], interpolation: .nearest).apply(labels.volume)
        let ours = try back.apply(coarse)
        #expect(ours.geometry == labels.volume.geometry)
        let theirs = try Self.sitk(path, coarse.geometry, .nearest, back: true)
        guard case .uint8(let a) = ours.voxels else { Issue.record("labels must stay uint8"); return }
        let b = [UInt8](theirs)
        try #require(a.count == b.count)
        let agree = zip(a, b).filter { $0 == $1 }.count
        #expect(Double(agree) / Double(a.count) >= 0.99, "agreement \(Double(agree) / Double(a.count))")
    }
}
