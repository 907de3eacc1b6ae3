import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
@testable import VoxelTransforms

@Suite("Intensity and label transforms against numpy/scipy",
       .enabled(if: TransformOracle.available, Comment(rawValue: TestPaths.oracleMissing)))
struct IntensityAndLabelTests {
    static let ct = TestPaths.sampleData + "/nifti/ct_head_hu.nii.gz"
    static let anatomical = TestPaths.sampleData + "/nifti/format/nibabel_anatomical.nii"

    static func maxAbsDifference(_ v: Volume, _ expected: [Float]) -> Float {
        guard case .float32(let a) = v.voxels, a.count == expected.count else { return .infinity }
        return zip(a, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test("CT window equals MONAI's ScaleIntensityRange formula")
    func ctWindow() throws {
        let v = try NIfTI.read(Self.ct).volume
        let ours = try ScaleIntensityRange.ctWindow(level: 40, width: 400).apply(v)
        let oracle = try TransformOracle.run(["window", Self.ct, "40", "400"])
        #expect(Self.maxAbsDifference(ours, TransformOracle.array(oracle.bytes, as: Float.self)) <= 1e-6)
    }

    @Test("z-score equals MONAI's NormalizeIntensity formula", arguments: [false, true])
    func zscore(nonzero: Bool) throws {
        let v = try NIfTI.read(Self.anatomical).volume
        let ours = try NormalizeIntensity(nonzero: nonzero).apply(v)
        let oracle = try TransformOracle.run(["zscore", Self.anatomical, nonzero ? "1" : "0"])
        #expect(Self.maxAbsDifference(ours, TransformOracle.array(oracle.bytes, as: Float.self)) <= 1e-5)
    }

    static func mask(_ path: String, above threshold: Double) throws -> LabelMap {
        let v = try NIfTI.read(path).volume
        let bits = (0..<v.voxels.count).map { UInt8(v.scaling.apply(v.voxels.value(at: $0)) > threshold ? 1 : 0) }
        return try LabelMap(Volume(geometry: v.geometry, voxels: .uint8(bits)))
    }

    @Test("connected components give scipy.ndimage.label's partition", arguments: Connectivity.allCases)
    func components(_ connectivity: Connectivity) throws {
        let (labels, count) = try ConnectedComponents(connectivity: connectivity).apply(Self.mask(Self.ct, above: 300))
        let oracle = try TransformOracle.run(["components", Self.ct, "300", "\(connectivity.rawValue)"])
        #expect(count == oracle.json["count"] as? Int)
        guard case .int32(let ours) = labels.volume.voxels else { Issue.record("labels must be int32"); return }
        let theirs = TransformOracle.array(oracle.bytes, as: Int32.self)
        // Same partition: the label correspondence is one-to-one.
        var forward: [Int32: Int32] = [:], backward: [Int32: Int32] = [:]
        var consistent = ours.count == theirs.count
        for (a, b) in zip(ours, theirs) where consistent {
            if (a == 0) != (b == 0) { consistent = false }
            if let f = forward[a], f != b { consistent = false }
            if let g = backward[b], g != a { consistent = false }
            forward[a] = b
            backward[b] = a
        }
        #expect(consistent, "partition differs from scipy's")
    }

    @Test("largest component and hole filling equal scipy's")
    func largestAndFill() throws {
        let bone = try Self.mask(Self.ct, above: 300)
        let largest = try KeepLargestComponent(connectivity: .corners).apply(bone)
        let l = try TransformOracle.run(["largest", Self.ct, "300", "26"])
        #expect(largest.volume.voxels.withUnsafeBytes { Data($0) } == l.bytes)
        let filled = try FillHoles().apply(try Self.mask(Self.ct, above: -300))
        let f = try TransformOracle.run(["fillholes", Self.ct, "-300"])
        #expect(filled.volume.voxels.withUnsafeBytes { Data($0) } == f.bytes)
    }
}

@Suite("Morphology, small components and percentile normalisation against scipy/numpy",
       .enabled(if: TransformOracle.available, Comment(rawValue: TestPaths.oracleMissing)))
struct MorphologyTests {
    static let ct = IntensityAndLabelTests.ct

    @Test("erosion and dilation equal scipy's", arguments: [("erode", Connectivity.faces, 1), ("dilate", .faces, 2), ("erode", .corners, 1), ("dilate", .edges, 1)])
    func morphology(_ op: String, _ connectivity: Connectivity, _ iterations: Int) throws {
        let operation = BinaryMorphology.Operation(rawValue: op) ?? .erode
        let ours = try BinaryMorphology(operation, connectivity: connectivity, iterations: iterations)
            .apply(IntensityAndLabelTests.mask(Self.ct, above: 300))
        let oracle = try TransformOracle.run([op, Self.ct, "300", "\(connectivity.rawValue)", "\(iterations)"])
        #expect(ours.volume.voxels.withUnsafeBytes { Data($0) } == oracle.bytes)
    }

    @Test("components under 0.05 mL are removed as scipy's sizes say")
    func removeSmall() throws {
        let ours = try RemoveSmallComponents(minimumMillilitres: 0.05).apply(IntensityAndLabelTests.mask(Self.ct, above: 300))
        let oracle = try TransformOracle.run(["removesmall", Self.ct, "300", "26", "0.05"])
        #expect(ours.volume.voxels.withUnsafeBytes { Data($0) } == oracle.bytes)
    }

    @Test("percentile clip and z-score equal numpy's (nnU-Net CT scheme)")
    func percentile() throws {
        let v = try NIfTI.read(Self.ct).volume
        let ours = try PercentileNormalize(lower: 0.5, upper: 99.5).apply(v)
        let oracle = try TransformOracle.run(["percentile", Self.ct, "0.5", "99.5"])
        #expect(IntensityAndLabelTests.maxAbsDifference(ours, TransformOracle.array(oracle.bytes, as: Float.self)) <= 1e-5)
    }

    @Test("remapping renames labels and can drop the rest")
    func remap() throws {
        let g = Geometry(size: SIMD3(4, 1, 1), spacing: SIMD3(1, 1, 1))
        let labels = try LabelMap(Volume(geometry: g, voxels: .uint8([0, 1, 2, 3])))
        guard case .int32(let kept) = try RemapLabels(mapping: [1: 10, 3: 30]).apply(labels).volume.voxels,
              case .int32(let dropped) = try RemapLabels(mapping: [1: 10], dropUnmapped: true).apply(labels).volume.voxels else {
            Issue.record("remapped labels must be int32"); return
        }
        #expect(kept == [0, 10, 2, 30])
        #expect(dropped == [0, 10, 0, 0])
    }
}

@Suite("Gaussian smoothing against scipy", .enabled(if: TransformOracle.available, Comment(rawValue: TestPaths.oracleMissing)))
struct GaussianSmoothTests {
    @Test("gaussian_filter parity", arguments: [[1.0, 1.0, 1.0], [0.7, 2.0, 0.0], [3.0, 0.5, 1.5]])
    func smooth(_ sigma: [Double]) throws {
        let path = IntensityAndLabelTests.anatomical
        let ours = try GaussianSmooth(sigma: sigma).apply(NIfTI.read(path).volume)
        let oracle = try TransformOracle.run(["smooth", path] + sigma.map { "\($0)" })
        let expected = TransformOracle.array(oracle.bytes, as: Float.self)
        let scale = expected.map { abs($0) }.max() ?? 1
        #expect(IntensityAndLabelTests.maxAbsDifference(ours, expected) <= 1e-5 * max(1, scale))
    }
}

@Suite("One-hot encoding")
struct OneHotTests {
    @Test("one-hot of a real label map has one 1 per voxel in the right channel, and argmax gives it back")
    func roundTrip() throws {
        let labels = try LabelMap(NIfTI.read(TestPaths.sampleData + "/nifti/ct_head_mask_bone.nii.gz").volume)
        let n = labels.geometry.voxelCount
        let encode = try OneHot(classes: [0, 1])
        let hot = try encode.apply(labels)
        #expect(hot.timePoints == 2 && hot.voxelType == .float32 && hot.geometry == labels.geometry)
        var wrong = 0
        for i in stride(from: 0, to: n, by: 7) {
            let l = labels.volume.voxels.value(at: i)
            if hot.voxels.value(at: i) != (l == 0 ? 1 : 0) || hot.voxels.value(at: n + i) != (l == 1 ? 1 : 0) { wrong += 1 }
        }
        #expect(wrong == 0)
        #expect(try encode.argmax(hot).volume.voxels == labels.volume.voxels)
    }

    @Test("labels outside the classes give all-zero channels; argmax of probabilities picks the largest")
    func partialAndScores() throws {
        let g = Geometry(size: SIMD3(3, 1, 1), spacing: SIMD3(1, 1, 1))
        let labels = try LabelMap(Volume(geometry: g, voxels: .uint8([0, 2, 7])))
        let hot = try OneHot(classes: [0, 2]).apply(labels)
        guard case .float32(let v) = hot.voxels else { Issue.record("float32 expected"); return }
        #expect(v == [1, 0, 0, 0, 1, 0])
        let scores = try Volume(geometry: g, voxels: .float32([0.2, 0.7, 0.5, 0.8, 0.3, 0.5]), timePoints: 2)
        #expect(try OneHot(classes: [3, 9]).argmax(scores).volume.voxels == .uint8([9, 3, 3]))
        #expect(throws: TransformError.self) { try OneHot(classes: [1, 1]) }
    }
}
