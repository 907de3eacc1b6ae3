import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelNN
import VoxelSupport

/// SwinUNETR against MONAI: fixtures written by scripts/oracles/make_swinunetr_fixtures.py (random weights held in
/// float16, outputs computed by PyTorch in float32).
@Suite("SwinUNETR matches MONAI")
struct SwinUNETRTests {
    static let bundle = TestPaths.repositoryRoot + "/Tests/Fixtures/bundles/ct-swinunetr-bundle"

    @Test("the bundle's checkpoint (model.pt, float16, one relative_position_index buffer) loads strictly and the network gives PyTorch's output on 32 × 64 × 32")
    func parity() throws {
        let io = try NetworkParityTests.weights("swinunetr_small_io")
        let weights = try TorchCheckpoint(path: Self.bundle + "/models/model.pt").weights()
        let net = try Networks.load(weights, description: JSONParser.parse(io.metadata["config"] ?? "").json)
        // Every tensor of the checkpoint is read, except the index buffer the network computes.
        let stored = Set(weights.entries.keys)
        #expect(stored.filter { net.isAlias($0) } == ["swinViT.layers1.0.blocks.0.attn.relative_position_index"])
        #expect(Set(net.parameterNames) == stored.filter { !net.isAlias($0) })
        let ours = try net.forward(io.tensor("input")), theirs = try io.tensor("output")
        #expect(ours.shape == [1, 3, 32, 64, 32] && ours.shape == theirs.shape)
        let worst = NetworkParityTests.worst(ours, theirs)
        #expect(worst <= 1e-4, "largest difference \(worst)")
    }

    @Test("the v2 encoder (residual stage blocks, PatchMergingV2, patch norm, no qkv bias, anisotropic window, normalize off) gives MONAI's five feature maps")
    func encoderV2() throws {
        let w = try NetworkParityTests.weights("swinvit_v2")
        let description = try JSONParser.parse(w.metadata["config"] ?? "").json
        var net = try MonaiSwinUNETR(configuration: NetworkConfiguration(description))
        try net.encoder.load(from: w, prefix: "swinViT.")
        let files = Set(w.entries.keys).filter { $0.hasPrefix("swinViT.") }
        #expect(Set(net.encoder.parameterNames("swinViT.")) == files)
        let hidden = try net.encoder.forward(w.tensor("input"))
        #expect(hidden.count == 5)
        for (i, h) in hidden.enumerated() {
            let theirs = try w.tensor("hidden\(i)")
            #expect(h.shape == theirs.shape)
            let worst = NetworkParityTests.worst(h, theirs)
            #expect(worst <= 1e-4, "feature map \(i): largest difference \(worst)")
        }
    }

    @Test("windows shrink to the grid and lose their shift there; mask regions follow MONAI's slices")
    func windows() {
        let w = SwinWindows(grid: [4, 8, 4], window: [7, 7, 7], shift: [3, 3, 3])
        #expect(w.size == [4, 7, 4] && w.shift == [0, 3, 0] && w.shifted && w.tokens == 112)
        // Padded length 14, window 7, shift 3: [:-7] → 0, [-7:-3] → 1, [-3:] → 2.
        #expect(SwinBlock.regions(length: 14, window: 7, shift: 3) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
        // No shift (the window is the whole axis): one region.
        #expect(Set(SwinBlock.regions(length: 4, window: 4, shift: 0)) == [2])
    }

    @Test("the vectorised exp of the softmax stays within 2 float ulps of exp from 0 down to underflow")
    func exponential() {
        var worst: Float = 0
        var x: Float = 0
        while x > -90 {
            let lanes = SIMD8<Float>((0..<8).map { x - Float($0) * 0.0137 })
            let ours = TokenMath.exp8(lanes)
            for i in 0..<8 {
                let exact = Float(Foundation.exp(Double(lanes[i])))
                guard exact > Float.leastNormalMagnitude * 4 else { continue }
                worst = max(worst, abs(ours[i] - exact) / exact.ulp)
            }
            x -= 0.11
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(TokenMath.exp8(SIMD8(repeating: -1000)).max() < 1e-37)
    }

    @Test("descriptions that MONAI would refuse are refused with the reason")
    func refusals() throws {
        for (json, reason) in [(#"{"type": "monai-swinunetr", "in": 1, "out": 2, "featureSize": 16}"#, "multiple of 12"),
                               (#"{"type": "monai-swinunetr", "in": 1, "out": 2, "depths": [2, 2, 2]}"#, "4 entries"),
                               (#"{"type": "monai-swinunetr", "in": 1, "out": 2, "numHeads": [5, 6, 12, 24]}"#, "5 heads"),
                               (#"{"type": "monai-swinunetr", "in": 1, "out": 2, "downsample": "pool"}"#, "merging")] {
            #expect { _ = try Networks.make(JSONParser.parse(json).json) } throws: { "\($0)".contains(reason) }
        }
        let net = try Networks.make(JSONParser.parse(#"{"type": "monai-swinunetr", "in": 1, "out": 2, "featureSize": 12}"#).json)
        #expect(throws: NNError.self) { try net.forward(Tensor(zeros: [1, 1, 32, 48, 32])) }
    }
}
