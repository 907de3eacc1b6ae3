import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelNN
import VoxelSupport

/// nnU-Net v2 model folders against nnU-Net itself: folders planned by nnU-Net's own planners (default and
/// ResEnc M) on a dataset cut from the corpus head CT, random weights saved by nnU-Net's trainer, and
/// nnUNetPredictor's CPU predictions (scripts/oracles/make_nnunet_fixtures.py). Inputs at the plan's spacing,
/// at another spacing (third-order resampling) and with 12 mm slices (separate-z resampling).
@Suite("nnU-Net model folders match nnUNetPredictor")
struct NNUNetParityTests {
    static let directory = TestPaths.repositoryRoot + "/Tests/Fixtures/nnunet"

    struct Case: CustomStringConvertible, Sendable {
        var model: String
        var folds: [String]
        var mirror: Bool
        var expected: String
        /// For a cascade stage: the run whose labels nnU-Net fed it (`-prev_stage_predictions`).
        var previous: String?
        var description: String { expected }
    }

    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
              case .array(let items)? = try? JSONParser.parse(bytes: [UInt8](data)).json else { return [] }
        return items.compactMap { item in
            guard let model = item["model"]?.stringValue, let expected = item["expected"]?.stringValue,
                  case .array(let folds)? = item["folds"], case .bool(let mirror)? = item["mirror"] else { return nil }
            return Case(model: model, folds: folds.compactMap(\.stringValue), mirror: mirror, expected: expected, previous: item["previous"]?.stringValue)
        }
    }()

    @Test("the fixture manifest lists every model, fold set and mirroring setting, and a 3d_lowres → 3d_cascade_fullres cascade")
    func manifest() {
        #expect(Self.cases.count == 14)
        #expect(Self.cases.contains { $0.previous != nil && $0.model.hasSuffix("3d_cascade_fullres") })
    }

    /// nnU-Net sums and stores logits in float16 (as does VoxelFlow, to match it); where a logit is large
    /// one float16 step is up to 0.0078, so the last-bit differences of two float32 convolution codes can
    /// move a probability by up to ~4e-3 on a handful of voxels. Everywhere else they agree within 1e-3.
    @Test("labels equal nnU-Net's wherever its top-2 margin is ≥ 1e-3; probabilities within 1e-3 (within one float16 step on ≤ 0.01% of voxels)", arguments: cases)
    func parity(_ c: Case) throws {
        let model = try NNUNetModel(folder: "\(Self.directory)/models/\(c.model)", folds: c.folds)
        for name in ["same", "resamp", "aniso"] {
            let image = try NIfTI.read("\(Self.directory)/inputs/\(name)_0000.nii.gz").volume
            let g = image.geometry
            // A cascade stage gets the same previous-stage labels nnU-Net got.
            let previous = try c.previous.map { run in
                let labels = try NIfTI.read("\(Self.directory)/expected/\(run)/\(name).nii.gz").volume
                return (0..<labels.voxels.count).map { UInt16(labels.voxels.value(at: $0)) }
            }
            let ours = try model.predict(channels: [image.physicalFloats()], shape: [g.size.z, g.size.y, g.size.x],
                                         spacing: [g.spacing.z, g.spacing.y, g.spacing.x], mirror: c.mirror, probabilities: true, previous: previous)
            let expected = "\(Self.directory)/expected/\(c.expected)/\(name)"
            let labels = try NIfTI.read(expected + ".nii.gz").volume
            // 1 where nnU-Net's top-2 probability margin is ≥ 1e-3.
            let clear = try NIfTI.read(expected + "_clear.nii.gz").volume
            let n = g.voxelCount
            var compared = 0, mismatched = 0
            for v in 0..<n where clear.voxels.value(at: v) != 0 {
                compared += 1
                if Int(ours.labels[v]) != Int(labels.voxels.value(at: v)) { mismatched += 1 }
            }
            // Probabilities (stored as uint16 × 1/65535) for the two-fold mirrored runs.
            if FileManager.default.fileExists(atPath: expected + "_probs.nii.gz") {
                let theirs = try NIfTI.read(expected + "_probs.nii.gz").volume.physicalFloats()
                let classes = theirs.count / n
                #expect(classes == model.dataset.labels.count)
                let ourProbs = ours.probabilities ?? []
                var worst: Float = 0, beyond = 0
                for v in 0..<n {
                    var far = false
                    for k in 0..<classes {
                        let d = abs(theirs[k * n + v] - ourProbs[k][v])
                        worst = max(worst, d)
                        if d > 1e-3 { far = true }
                    }
                    if far { beyond += 1 }
                }
                #expect(beyond * 10_000 <= n, "\(c) \(name): \(beyond) voxels' probabilities differ by more than 1e-3")
                #expect(worst <= 4e-3, "\(c) \(name): probabilities differ by up to \(worst)")
            }
            #expect(compared > n * 9 / 10, "\(c) \(name): only \(compared) of \(n) voxels have a clear winner")
            #expect(mismatched == 0, "\(c) \(name): \(mismatched) of \(compared) labels differ")
        }
    }

    @Test("a fold converted to safetensors (same tensor names) predicts exactly what its .pth does")
    func safetensorsFold() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let folder = root + "/nnUNetPlans__2d"
        try FileManager.default.copyItem(atPath: Self.directory + "/models/nnUNetPlans__2d", toPath: folder)
        try FileManager.default.copyItem(atPath: TestPaths.repositoryRoot + "/Tests/Fixtures/checkpoints/nnunet_2d_fold0.safetensors",
                                         toPath: folder + "/fold_0/checkpoint_final.safetensors")
        let pth = try NNUNetModel(folder: folder, folds: ["0"])
        let safetensors = try NNUNetModel(folder: folder, folds: ["0"], checkpoint: "checkpoint_final.safetensors")
        #expect(safetensors.plans.configuration == "2d")
        let image = try NIfTI.read("\(Self.directory)/inputs/same_0000.nii.gz").volume
        let g = image.geometry
        let run = { (m: NNUNetModel) in
            try m.predict(channels: [image.physicalFloats()], shape: [g.size.z, g.size.y, g.size.x], spacing: [g.spacing.z, g.spacing.y, g.spacing.x],
                          mirror: false, probabilities: true)
        }
        let a = try run(pth), b = try run(safetensors)
        #expect(a.labels == b.labels)
        #expect(a.probabilities == b.probabilities)
    }
}
