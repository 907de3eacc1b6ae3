import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelMetrics

/// Segmentation metrics against MONAI's (`scripts/oracles/make_metric_fixtures.py` → `Tests/Fixtures/metrics/oracle.json`).
@Suite("Segmentation metrics match MONAI")
struct SegmentationMetricsParityTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/metrics"

    /// The oracle's values for one case: label → metric → number (or "nan"/"inf" for MONAI's undefined values).
    static func oracle(_ name: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/oracle.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(root["cases"] as? [String: Any])
        let c = try #require(cases[name] as? [String: Any], "no oracle case \(name)")
        return try #require(c["labels"] as? [String: [String: Any]])
    }

    /// Compares every metric the oracle has for every label (counts exactly, ratios and distances to 1e-5 relative,
    /// as MONAI computes in float32). Returns the number of values compared.
    @discardableResult
    static func compare(_ result: SegmentationEvaluation, _ oracle: [String: [String: Any]]) -> Int {
        var compared = 0
        for e in result.labels {
            guard let o = oracle[String(e.label)] else { Issue.record("label \(e.label) missing from the oracle"); continue }
            func int(_ key: String, _ ours: Int) {
                guard let theirs = o[key] as? Int else { return }
                #expect(ours == theirs, "label \(e.label) \(key): \(ours) against MONAI's \(theirs)")
                compared += 1
            }
            func real(_ key: String, _ ours: Double?) {
                guard let theirs = o[key] as? Double else { return }
                guard let ours else { Issue.record("label \(e.label) \(key): undefined, MONAI has \(theirs)"); return }
                #expect(abs(ours - theirs) <= 1e-5 * max(1, abs(theirs)), "label \(e.label) \(key): \(ours) against MONAI's \(theirs)")
                compared += 1
            }
            int("referenceVoxels", e.referenceVoxels); int("predictedVoxels", e.predictedVoxels)
            int("truePositives", e.truePositives); int("falsePositives", e.falsePositives)
            int("falseNegatives", e.falseNegatives); int("trueNegatives", e.trueNegatives)
            int("referenceSurfaceVoxels", e.referenceSurfaceVoxels); int("predictedSurfaceVoxels", e.predictedSurfaceVoxels)
            real("dice", e.dice); real("iou", e.iou)
            real("precision", e.precision); real("sensitivity", e.sensitivity); real("specificity", e.specificity)
            if e.presence == .both {
                real("hausdorff", e.hausdorff); real("hausdorff95", e.hausdorffPercentile)
                real("averageSurfaceDistance", e.averageSurfaceDistance)
                real(result.options.tolerance == 2 ? "surfaceDice2mm" : "surfaceDice1mm", e.surfaceDice)
            }
            // MONAI leaves 0/0 undefined (NaN): so does VoxelFlow, for the same metrics.
            if (o["precision"] as? String) == "nan" { #expect(e.precision == nil) }
            if (o["sensitivity"] as? String) == "nan" { #expect(e.sensitivity == nil) }
        }
        return compared
    }

    static func labelMap(_ path: String) throws -> LabelMap { try LabelMap(NIfTI.read(path).volume) }

    @Test("Synthetic anisotropic case: blob, single voxels, one-sided labels, border contact (tolerance 1 and 2 mm)",
          arguments: [1.0, 2.0])
    func synthetic(tolerance: Double) throws {
        let prediction = try Self.labelMap(Self.fixtures + "/synthetic_pred.nii.gz")
        let reference = try Self.labelMap(Self.fixtures + "/synthetic_ref.nii.gz")
        let result = try SegmentationEvaluator.evaluate(prediction: prediction, reference: reference,
                                                       options: .init(labels: [1, 2, 3, 4, 5, 6], tolerance: tolerance))
        let compared = Self.compare(result, try Self.oracle("synthetic"))
        #expect(compared == 80)
        // The documented values where MONAI gives NaN or infinity (one or both masks empty).
        let byLabel = Dictionary(uniqueKeysWithValues: result.labels.map { ($0.label, $0) })
        let diagonal = result.worstDistance
        #expect(abs(diagonal - ((19 * 0.8) * (19 * 0.8) + (17 * 1.1) * (17 * 1.1) + (15 * 2.5) * (15 * 2.5)).squareRoot()) < 1e-5)
        for (label, presence) in [(3, LabelPresence.referenceOnly), (4, .predictionOnly)] {
            let e = try #require(byLabel[label])
            #expect(e.presence == presence)
            #expect(e.dice == 0 && e.surfaceDice == 0 && e.hausdorff == diagonal && e.hausdorffPercentile == diagonal
                    && e.averageSurfaceDistance == diagonal)
        }
        let absent = try #require(byLabel[6])
        #expect(absent.presence == .neither && absent.dice == 1 && absent.iou == 1 && absent.surfaceDice == 1
                && absent.hausdorff == 0 && absent.volumeSimilarity == 1 && absent.precision == nil && absent.sensitivity == nil)
        // Volumes in mm³ and their differences.
        let blob = try #require(byLabel[1])
        let voxel = 0.8 * 1.1 * 2.5  // NIfTI stores the spacing as float32: volumes agree to 1e-6 relative
        #expect(abs(blob.referenceVolume - 229 * voxel) < 1e-4 && abs(blob.predictedVolume - 325 * voxel) < 1e-4)
        #expect(abs(blob.volumeDifference - 96 * voxel) < 1e-4)
        #expect(abs((blob.relativeVolumeDifference ?? 0) - 96.0 / 229) < 1e-12)
        #expect(abs(blob.volumeSimilarity - (1 - 96.0 / 554)) < 1e-12)
    }

    @Test("The same labels on an oblique grid (rotated axes) give the same metrics")
    func obliqueGrid() throws {
        var prediction = try Self.labelMap(Self.fixtures + "/synthetic_pred.nii.gz").volume
        var reference = try Self.labelMap(Self.fixtures + "/synthetic_ref.nii.gz").volume
        let straight = try SegmentationEvaluator.evaluate(prediction: LabelMap(prediction), reference: LabelMap(reference))
        let (c, s) = (cos(0.4), sin(0.4)), (c2, s2) = (cos(-0.25), sin(-0.25))
        let rz = Matrix3(columns: SIMD3(c, s, 0), SIMD3(-s, c, 0), SIMD3(0, 0, 1))
        let rx = Matrix3(columns: SIMD3(1, 0, 0), SIMD3(0, c2, s2), SIMD3(0, -s2, c2))
        prediction.geometry.direction = rz * rx
        reference.geometry.direction = rz * rx
        let oblique = try SegmentationEvaluator.evaluate(prediction: LabelMap(prediction), reference: LabelMap(reference))
        #expect(oblique.labels.count == straight.labels.count)
        for (a, b) in zip(oblique.labels, straight.labels) {
            #expect(a.dice == b.dice && a.truePositives == b.truePositives)
            #expect(abs((a.hausdorff ?? -1) - (b.hausdorff ?? -2)) < 1e-9)
            #expect(abs((a.averageSurfaceDistance ?? -1) - (b.averageSurfaceDistance ?? -2)) < 1e-9)
            #expect(a.surfaceDice == b.surfaceDice)
        }
    }

    @Test("Head CT (0.957 × 0.957 × 1.5 mm): head and bone from HU thresholds against the committed masks")
    func headCT() throws {
        let d = TestPaths.sampleData + "/nifti"
        let hu = try NIfTI.read(d + "/ct_head_hu.nii.gz").volume
        let head = try NIfTI.read(d + "/ct_head_mask_head.nii.gz").volume
        let bone = try NIfTI.read(d + "/ct_head_mask_bone.nii.gz").volume
        let values = hu.physicalFloats()
        var ref = [UInt8](repeating: 0, count: values.count), pred = ref
        for n in 0..<values.count {
            if head.voxels.value(at: n) > 0 { ref[n] = 1 }
            if bone.voxels.value(at: n) > 0 { ref[n] = 2 }
            if values[n] > -200 { pred[n] = 1 }
            if values[n] > 350 { pred[n] = 2 }
        }
        let reference = try LabelMap(Volume(geometry: hu.geometry, voxels: .uint8(ref)))
        let prediction = try LabelMap(Volume(geometry: hu.geometry, voxels: .uint8(pred)))
        let result = try SegmentationEvaluator.evaluate(prediction: prediction, reference: reference)
        #expect(result.labels.map(\.label) == [1, 2])
        #expect(Self.compare(result, try Self.oracle("ct_head")) >= 2 * 15)
    }

    @Test("AAL, 116 labels at 1 mm, against itself taken to 2 × 2 × 3 mm and back",
          .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
    func aal() throws {
        let reference = try Self.labelMap(TestPaths.sharedData + "/nifti/colin27/aal.nii.gz")
        let v = reference.volume
        let size = v.geometry.size
        guard case .uint8(let aal) = v.voxels else { Issue.record("AAL is stored as uint8"); return }
        var pred = aal
        for k in 0..<size.z {
            for j in 0..<size.y {
                for i in 0..<size.x {
                    pred[i + size.x * (j + size.y * k)] = aal[2 * (i / 2) + size.x * (2 * (j / 2) + size.y * 3 * (k / 3))]
                }
            }
        }
        var predicted = v
        try predicted.replaceVoxels(.uint8(pred))
        let result = try SegmentationEvaluator.evaluate(prediction: LabelMap(predicted), reference: reference)
        #expect(result.labels.count == 116)
        #expect(Self.compare(result, try Self.oracle("aal")) >= 116 * 15)
    }

    @Test("A sheared grid (a tilted stack): surface distances between world positions equal a brute-force search")
    func shearedGrid() throws {
        var prediction = try Self.labelMap(Self.fixtures + "/synthetic_pred.nii.gz").volume
        var reference = try Self.labelMap(Self.fixtures + "/synthetic_ref.nii.gz").volume
        // Slices tilted by 15° along j, as a gantry-tilted CT stack kept as acquired.
        let tilt = Matrix3(columns: SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0.25881904510252074, 0.9659258262890683))
        prediction.geometry.direction = tilt
        reference.geometry.direction = tilt
        let result = try SegmentationEvaluator.evaluate(prediction: LabelMap(prediction), reference: LabelMap(reference), options: .init(labels: [1, 2, 5]))
        let g = reference.geometry
        func surface(_ v: Volume, _ label: Int) -> [SIMD3<Double>] {
            let s = g.size
            var out: [SIMD3<Double>] = []
            for k in 0..<s.z { for j in 0..<s.y { for i in 0..<s.x where Int(v.value(i, j, k)) == label {
                let inside = [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)].allSatisfy { d in
                    let (a, b, c) = (i + d.0, j + d.1, k + d.2)
                    return a >= 0 && b >= 0 && c >= 0 && a < s.x && b < s.y && c < s.z && Int(v.value(a, b, c)) == label
                }
                if !inside { out.append(g.worldPoint(atIndex: SIMD3(Double(i), Double(j), Double(k)))) }
            } } }
            return out
        }
        for e in result.labels {
            let p = surface(prediction, e.label), r = surface(reference, e.label)
            func nearest(_ from: [SIMD3<Double>], _ to: [SIMD3<Double>]) -> [Double] {
                from.map { a in to.map { b in ((a - b) * (a - b)).sum() }.min().map { $0.squareRoot() } ?? .infinity }
            }
            let forward = nearest(p, r), backward = nearest(r, p)
            let hd = max(forward.max() ?? 0, backward.max() ?? 0)
            let assd = (forward.reduce(0, +) + backward.reduce(0, +)) / Double(forward.count + backward.count)
            #expect(abs((e.hausdorff ?? -1) - hd) < 1e-9, "label \(e.label): HD \(e.hausdorff ?? -1) against brute force \(hd)")
            #expect(abs((e.averageSurfaceDistance ?? -1) - assd) < 1e-9, "label \(e.label): ASSD")
            #expect(e.predictedSurfaceVoxels == p.count && e.referenceSurfaceVoxels == r.count)
        }
        // Shear shrinks the voxel: its volume is |det| of the voxel-to-world map.
        let blob = try #require(result.labels.first)
        #expect(abs(blob.referenceVolume - Double(blob.referenceVoxels) * g.spacing.x * g.spacing.y * g.spacing.z * 0.9659258262890683) < 1e-6)
    }

    @Test("Mismatched grids and bad options are refused with the reason")
    func refusals() throws {
        let reference = try Self.labelMap(Self.fixtures + "/synthetic_ref.nii.gz")
        var shifted = reference.volume
        shifted.geometry.origin.x += 0.5
        #expect(throws: MetricsError.self) { try SegmentationEvaluator.evaluate(prediction: LabelMap(shifted), reference: reference) }
        do {
            _ = try SegmentationEvaluator.evaluate(prediction: LabelMap(shifted), reference: reference)
        } catch {
            #expect("\(error)".contains("0.5 mm") && "\(error)".contains("resample"))
        }
        let overlapOnly = try SegmentationEvaluator.evaluate(prediction: reference, reference: reference, options: .init(surfaceMetrics: false))
        #expect(overlapOnly.labels.allSatisfy { $0.dice == 1 && $0.hausdorff == nil })
        #expect(throws: MetricsError.self) { try SegmentationEvaluator.evaluate(prediction: reference, reference: reference, options: .init(tolerance: -1)) }
        #expect(throws: MetricsError.self) { try SegmentationEvaluator.evaluate(prediction: reference, reference: reference, options: .init(percentile: 101)) }
        #expect(throws: MetricsError.self) { try SegmentationEvaluator.evaluate(prediction: reference, reference: reference, options: .init(labels: [0])) }
    }
}
