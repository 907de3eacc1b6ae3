import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelNN
import VoxelSupport

/// Whole MONAI networks against PyTorch: state_dicts, inputs and outputs exported by
/// scripts/oracles/export_nn_refs.py (random weights, norm statistics moved off their defaults).
@Suite("MONAI networks match PyTorch")
struct NetworkParityTests {
    /// Fixture name prefixes of network and sliding-window cases (not single layers).
    static let networkPrefixes = ["unet_", "basicunet", "segresnet_", "dynunet_", "swinunetr_", "swinvit_", "resnet_", "densenet_", "window_"]

    static func weights(_ name: String) throws -> Safetensors {
        try Safetensors(path: "\(LayerParityTests.directory)/\(name).safetensors")
    }

    /// Largest difference, relative for values above 1 in magnitude.
    static func worst(_ ours: Tensor, _ theirs: Tensor) -> Float {
        var worst: Float = 0
        for i in 0..<min(ours.count, theirs.count) { worst = max(worst, abs(ours.data[i] - theirs.data[i]) / max(1, abs(theirs.data[i]))) }
        return worst
    }

    @Test("each network loads its MONAI state_dict (no tensor left over) and gives PyTorch's output within 1e-4",
          arguments: ["unet_res2", "unet_plain", "unet_batch", "unet_relu_nonorm", "unet_k5_leaky", "basicunet", "basicunet_odd",
                     "segresnet_default", "segresnet_deconv_brats", "dynunet_aniso_ds", "dynunet_res_batch", "resnet_basic", "resnet_bottleneck",
                     "densenet_small"])
    func parity(_ name: String) throws {
        let w = try Self.weights(name)
        let net = try Networks.load(w)
        let ours = try net.forward(w.tensor("input")), theirs = try w.tensor("output")
        #expect(ours.shape == theirs.shape)
        let worst = Self.worst(ours, theirs)
        #expect(worst <= 1e-4, "\(name): largest difference \(worst)")
        // Every stored parameter is one the network reads (or an alias PyTorch saved twice), and vice versa.
        #expect(Set(net.parameterNames) == Set(w.entries.keys.filter { !net.isAlias($0) }).subtracting(["input", "output"]))
    }

    @Test("DynUNet: PyTorch's skip_layers aliases and deep-supervision heads are accepted, not read; each alias holds its module's tensor")
    func dynUNetAliases() throws {
        let w = try Self.weights("dynunet_aniso_ds")
        let net = try Networks.load(w)
        let aliases = w.entries.keys.filter { net.isAlias($0) }
        #expect(aliases.contains("skip_layers.downsample.conv1.conv.weight"))
        #expect(aliases.contains("deep_supervision_heads.1.conv.conv.bias"))
        #expect(try w.tensor("skip_layers.next_layer.next_layer.next_layer.conv1.conv.weight") == w.tensor("bottleneck.conv1.conv.weight"))
        // Anisotropic strides: each axis has its own multiple ([1,1,1]·[1,2,2]·[2,2,2]·[2,2,1] along D, H, W).
        #expect(net.sizeMultiples == [4, 8, 4])
        #expect(throws: NNError.self) { try net.forward(Tensor(zeros: [1, 1, 8, 12, 12])) }
        #expect(try net.forward(Tensor(zeros: [1, 1, 4, 8, 4])).shape == [1, 3, 4, 8, 4])
    }

    @Test("a checkpoint for another configuration is refused, naming the first mismatch")
    func wrongCheckpoint() throws {
        let weights = try Self.weights("unet_res2")
        var wider = try MonaiUNet(inChannels: 1, outChannels: 2, channels: [8, 16, 32], strides: [2, 2], numResUnits: 2)
        #expect(throws: NNError.shapeMismatch(name: "model.0.conv.unit0.conv.weight", expected: [8, 1, 3, 3, 3], found: [4, 1, 3, 3, 3])) {
            try wider.load(from: weights)
        }
        var plain = try MonaiUNet(inChannels: 1, outChannels: 2, channels: [4, 8, 16], strides: [2, 2], numResUnits: 0)
        #expect(throws: NNError.missingWeight("model.0.conv.weight")) { try plain.load(from: weights) }
        // A ResNet-10 description against ResNet weights with two blocks in the second stage: the extra
        // block's tensors are refused by name.
        var shallower = try MonaiResNet(inChannels: 1, outChannels: 3, block: .basic, layers: [1, 1, 1, 1], blockInplanes: [4, 8, 8, 16],
                                        conv1Size: 3, conv1Stride: 2)
        #expect(throws: NNError.unexpectedWeight("layer2.1.bn1.bias")) { try shallower.loadStrictly(from: Self.weights("resnet_basic")) }
    }

    @Test("network descriptions: errors name the key", arguments: [
        (#"{"type": "monai-vnet"}"#, "network type \"monai-vnet\" is unknown"),
        (#"{"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8], "strides": "2"}"#, "\"strides\" must be an array"),
        (#"{"type": "monai-basicunet", "in": 1}"#, "\"out\" must be given"),
        (#"{"type": "monai-resnet", "in": 1, "out": 2, "depth": 12}"#, "\"depth\" must be 10, 18"),
        (#"{"type": "monai-basicunet", "in": 1, "out": 2, "features": [4, 4, 8]}"#, "six positive feature counts"),
        (#"{"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, 3, 3], "strides": [1, 2], "upsampleKernelSize": [2]}"#,
         "same number of levels, at least 3"),
        (#"{"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, 3, 3], "strides": [1, 2, 2], "upsampleKernelSize": [2]}"#,
         "upsampleKernelSize needs 2 entries"),
        (#"{"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, [3, 3], 3], "strides": [1, 2, 2], "upsampleKernelSize": [2, 2]}"#,
         "a positive whole number or three"),
        (#"{"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, 3, 3], "strides": [1, 2, 2], "upsampleKernelSize": [2, 2], "norm": "layer"}"#,
         "\"norm\" \"layer\" is not one of"),
        (#"{"type": "monai-densenet", "in": 1, "out": 2, "preset": "densenet100"}"#, "\"preset\" \"densenet100\" is not one of"),
    ])
    func badDescriptions(_ text: String, _ message: String) throws {
        let description = try JSONParser.parse(text).json
        do {
            _ = try Networks.make(description)
            Issue.record("\(text) was accepted")
        } catch let error as NNError {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test("DenseNet presets build MONAI's block configurations")
    func denseNetPresets() throws {
        let d121 = try Networks.make(try JSONParser.parse(#"{"type": "monai-densenet", "in": 1, "out": 2}"#).json)
        #expect(d121.parameterNames.contains("features.denseblock3.denselayer24.layers.conv2.weight"))
        #expect(!d121.parameterNames.contains("features.denseblock3.denselayer25.layers.conv2.weight"))
        #expect(d121.isClassifier)
        let d169 = try Networks.make(try JSONParser.parse(#"{"type": "monai-densenet", "in": 1, "out": 2, "preset": "densenet169"}"#).json)
        #expect(d169.parameterNames.contains("features.denseblock4.denselayer32.layers.norm1.running_var"))
        // Too small for the transitions' pooling: an error, not a crash.
        #expect(throws: NNError.self) { try d121.forward(Tensor(zeros: [1, 1, 8, 8, 8])) }
    }

    @Test("MONAI's named ResNet depths build the right blocks")
    func resnetDepths() throws {
        let r50 = try Networks.make(try JSONParser.parse(#"{"type": "monai-resnet", "in": 1, "out": 2, "depth": 50}"#).json)
        #expect(r50.parameterNames.contains("layer3.5.conv3.weight"))
        #expect(!r50.parameterNames.contains("layer3.6.conv1.weight"))
        #expect(r50.parameterNames.contains("fc.weight"))
    }

    @Test("a wrong input shape is an error, not a crash")
    func wrongInput() throws {
        let net = try Networks.load(try Self.weights("basicunet"))
        #expect(throws: NNError.self) { try net.forward(Tensor(zeros: [1, 2, 16, 16, 8])) }
        #expect(throws: NNError.self) { try net.forward(Tensor(zeros: [1, 1, 16, 16, 16])) }
    }
}

@Suite("Dropout")
struct DropoutTests {
    @Test("inference is the identity; training zeroes about p of the elements, scales the rest, and repeats with the seed")
    func dropout() throws {
        let layer = try Dropout(p: 0.25)
        let x = Tensor(repeating: 2, shape: [1, 1, 20, 20, 25])
        #expect(try layer.forward(x) == x)
        var g1 = SeededGenerator(seed: 7), g2 = SeededGenerator(seed: 7)
        let (y, mask) = layer.forwardTraining(x, generator: &g1)
        let dropped = mask.filter { !$0 }.count
        #expect(abs(Double(dropped) / Double(x.count) - 0.25) < 0.02)
        #expect(y.data.allSatisfy { $0 == 0 || abs($0 - 2 / 0.75) < 1e-6 })
        #expect(layer.forwardTraining(x, generator: &g2).output == y)
        #expect(throws: NNError.self) { _ = try Dropout(p: 1) }
    }
}

@Suite("Convolution on concatenated parts")
struct ConcatenatingConvolutionTests {
    @Test("reading the parts in place gives the convolution of their concatenation")
    func sameAsConcatenation() throws {
        var generator = SeededGenerator(seed: 3)
        func random(_ shape: [Int]) -> Tensor {
            var t = Tensor(zeros: shape)
            for i in 0..<t.count { t.data[i] = Float(generator.unit() - 0.5) }
            return t
        }
        var conv = Conv3d(inChannels: 5, outChannels: 4, kernel: [3, 3, 3], padding: [1, 1, 1])
        conv.weight = random(conv.weight.shape)
        conv.bias = random([4])
        let a = random([2, 2, 6, 7, 5]), b = random([2, 3, 6, 7, 5])
        let joined = try conv.forward(TensorOps.concatChannels([a, b]))
        let parts = try conv.forward(concatenating: [a, b])
        #expect(parts.shape == joined.shape)
        #expect(parts.maxAbsDifference(joined) <= 1e-5)
        #expect(throws: NNError.self) { try conv.forward(concatenating: [a, a]) }
    }
}
