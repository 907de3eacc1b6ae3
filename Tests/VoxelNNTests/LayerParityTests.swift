import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelNN
import VoxelSupport

/// Every layer against PyTorch: inputs, parameters and outputs exported once by
/// scripts/oracles/export_nn_refs.py into Tests/Fixtures/nn/ (so the tests need no torch).
@Suite("Layers match PyTorch")
struct LayerParityTests {
    static let directory = TestPaths.repositoryRoot + "/Tests/Fixtures/nn"

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }.map { String($0.dropLast(12)) }
            .filter { name in !NetworkParityTests.networkPrefixes.contains { name.hasPrefix($0) } }.sorted()
    }

    /// Builds the layer a fixture describes and loads its parameters.
    static func layer(_ config: JSONNode, weights: Safetensors) throws -> any Layer {
        func ints(_ key: String, _ fallback: [Int]) -> [Int] {
            guard case .array(let items)? = config.member(key)?.value.value else { return fallback }
            return items.compactMap { if case .number(let d) = $0.value { return Int(d) } else { return nil } }
        }
        func int(_ key: String) -> Int { if case .number(let d)? = config.member(key)?.value.value { return Int(d) } else { return 0 } }
        func bool(_ key: String, _ fallback: Bool) -> Bool { if case .bool(let b)? = config.member(key)?.value.value { return b } else { return fallback } }
        let type = config.member("type")?.value.string ?? ""
        var layer: any ParameterizedLayer
        switch type {
        case "conv3d":
            layer = Conv3d(inChannels: int("in"), outChannels: int("out"), kernel: ints("kernel", []), stride: ints("stride", [1, 1, 1]),
                           padding: ints("padding", [0, 0, 0]), dilation: ints("dilation", [1, 1, 1]), groups: max(1, int("groups")), bias: bool("bias", true))
        case "convtranspose3d":
            layer = ConvTranspose3d(inChannels: int("in"), outChannels: int("out"), kernel: ints("kernel", []), stride: ints("stride", [1, 1, 1]),
                                    padding: ints("padding", [0, 0, 0]), outputPadding: ints("outputPadding", [0, 0, 0]))
        case "instancenorm3d": layer = InstanceNorm3d(channels: int("channels"), affine: bool("affine", false))
        case "batchnorm3d": layer = BatchNorm3d(channels: int("channels"))
        case "groupnorm": layer = GroupNorm(groups: int("groups"), channels: int("channels"))
        case "prelu": layer = PReLU(channels: int("channels"))
        case "linear": layer = Linear(inFeatures: int("in"), outFeatures: int("out"))
        case "relu": return ReLU()
        case "leakyrelu":
            if case .number(let d)? = config.member("slope")?.value.value { return LeakyReLU(slope: Float(d)) }
            return LeakyReLU()
        case "sigmoid": return Sigmoid()
        case "softmax": return Softmax()
        case "maxpool3d": return MaxPool3d(kernel: ints("kernel", []), stride: ints("stride", []), padding: ints("padding", [0, 0, 0]))
        case "avgpool3d": return AvgPool3d(kernel: ints("kernel", []), stride: ints("stride", []), padding: ints("padding", [0, 0, 0]))
        case "globalavgpool": return GlobalAvgPool()
        case "upsample": return Upsample(scale: int("scale"), mode: config.member("mode")?.value.string == "nearest" ? .nearest : .trilinear)
        default: throw NNError.invalidInput("fixture layer type \(type)")
        }
        try layer.load(from: weights, prefix: "")
        return layer
    }

    @Test("the fixtures are present")
    func fixturesPresent() { #expect(Self.cases.count >= 20) }

    @Test("layer output matches PyTorch within 1e-4 (relative for large values)", arguments: cases)
    func parity(_ name: String) throws {
        let weights = try Safetensors(path: "\(Self.directory)/\(name).safetensors")
        let config = try JSONParser.parse(try #require(weights.metadata["config"]))
        let layer = try Self.layer(config, weights: weights)
        let input = try weights.tensor("input"), expected = try weights.tensor("output")
        let output = try layer.forward(input)
        #expect(output.shape == expected.shape)
        var worst: Float = 0
        for i in 0..<min(output.count, expected.count) {
            worst = max(worst, abs(output.data[i] - expected.data[i]) / max(1, abs(expected.data[i])))
        }
        #expect(worst <= 1e-4, "\(name): largest (relative) difference \(worst)")
    }

    @Test("concatenation and residual addition")
    func tensorOps() throws {
        let a = try Tensor(shape: [2, 1, 1, 1, 2], data: [1, 2, 3, 4]), b = try Tensor(shape: [2, 2, 1, 1, 2], data: [5, 6, 7, 8, 9, 10, 11, 12])
        #expect(try TensorOps.concatChannels([a, b]).data == [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        #expect(try TensorOps.add(a, a).data == [2, 4, 6, 8])
        #expect(throws: NNError.self) { try TensorOps.add(a, b) }
    }
}

@Suite("Safetensors weights")
struct SafetensorsTests {
    static let file = LayerParityTests.directory + "/conv3d_basic.safetensors"

    @Test("a weight of the wrong shape or name is refused, naming it")
    func wrongShapeOrName() throws {
        let weights = try Safetensors(path: Self.file)
        var conv = Conv3d(inChannels: 3, outChannels: 5, kernel: [3, 3, 3])
        #expect(throws: NNError.shapeMismatch(name: "weight", expected: [5, 3, 3, 3, 3], found: [4, 3, 3, 3, 3])) {
            try conv.load(from: weights, prefix: "")
        }
        var named = Conv3d(inChannels: 3, outChannels: 4, kernel: [3, 3, 3])
        #expect(throws: NNError.missingWeight("encoder.0.weight")) { try named.load(from: weights, prefix: "encoder.0.") }
    }

    @Test("every truncation of a file is a typed error, never a crash")
    func truncated() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.file)))
        for cut in [0, 4, 7, 8, 20, 100, bytes.count / 2, bytes.count - 1] {
            #expect(throws: NNError.self, "cut at \(cut)") { _ = try Safetensors(bytes: Array(bytes.prefix(cut)), path: "cut.safetensors") }
        }
        // A hostile header: data offsets beyond the file.
        let header = Array(#"{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}"#.utf8)
        var hostile = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        hostile += [0, 0, 0, 0]
        #expect(throws: NNError.self) { _ = try Safetensors(bytes: hostile, path: "hostile.safetensors") }
    }

    /// A safetensors file of the given header (JSON text) followed by `dataBytes` zero bytes.
    static func file(header: String, dataBytes: Int) -> [UInt8] {
        let h = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + [UInt8](repeating: 0, count: dataBytes)
    }

    @Test("tensors must tile the data section exactly: overlap, aliasing, gaps and unexplained bytes are refused", arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, "overlaps"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 8, "overlaps"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "belong to no tensor"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "the rest belongs to no tensor"),
    ])
    func tiling(_ header: String, _ dataBytes: Int, _ fragment: String) {
        do {
            _ = try Safetensors(bytes: Self.file(header: header, dataBytes: dataBytes), path: "t.safetensors")
            Issue.record("accepted \(header)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }

    @Test("tensors listed out of order but tiling the data are accepted")
    func tilingInAnyOrder() throws {
        let header = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"__metadata__":{"x":"y"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        let file = try Safetensors(bytes: Self.file(header: header, dataBytes: 8), path: "t.safetensors")
        #expect(Set(file.entries.keys) == ["a", "b"])
    }
}
