import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelNN
import VoxelSupport

/// Sliding-window inference against MONAI's `sliding_window_inference` on the same network and volume
/// (fixtures `window_*` from scripts/oracles/export_nn_refs.py; mirroring is checked against flips done in
/// PyTorch around MONAI's predictor).
@Suite("Sliding-window inference matches MONAI")
struct SlidingWindowTests {
    static func setup(_ name: String) throws -> (SlidingWindow, any Network, Tensor, Tensor) {
        let w = try NetworkParityTests.weights(name)
        let net = try Networks.load(w)
        let settings = try JSONParser.parse(try #require(w.metadata["window"])).json
        func ints(_ key: String) -> [Int] {
            if case .array(let items)? = settings[key] { return items.compactMap { $0.doubleValue.map { Int($0) } } }
            return []
        }
        let window = try SlidingWindow(roi: ints("roi"), overlap: settings["overlap"]?.doubleValue ?? 0,
                                       blend: settings["mode"]?.stringValue == "gaussian" ? .gaussian(sigmaScale: 0.125) : .constant,
                                       batchSize: Int(settings["batch"]?.doubleValue ?? 1), mirrorAxes: ints("mirror"))
        return (window, net, try w.tensor("input"), try w.tensor("output"))
    }

    static let cases = ["window_gaussian", "window_constant_batch", "window_mirror"]

    @Test("averaged output equals MONAI's within 1e-4 (padding, last-window shift, batches, mirroring)", arguments: cases)
    func predict(_ name: String) throws {
        let (window, net, input, expected) = try Self.setup(name)
        let output = try window.predict(input, network: net)
        #expect(output.shape == expected.shape)
        let worst = NetworkParityTests.worst(output, expected)
        #expect(worst <= 1e-4, "\(name): largest difference \(worst)")
    }

    @Test("streamed labels equal the argmax of MONAI's output", arguments: cases)
    func labels(_ name: String) throws {
        let (window, net, input, expected) = try Self.setup(name)
        guard case .uint8(let labels) = try window.labels(input, network: net) else { Issue.record("expected 8-bit labels"); return }
        let channels = expected.shape[1], spatial = expected.count / channels
        var argmax = [UInt8](repeating: 0, count: spatial)
        for v in 0..<spatial {
            var best = 0
            for c in 1..<channels where expected.data[c * spatial + v] > expected.data[best * spatial + v] { best = c }
            argmax[v] = UInt8(best)
        }
        #expect(labels == argmax)
        #expect(Set(labels).count > 1, "a constant label map would not test anything")
    }

    @Test("finished slices handed on one at a time give the same output")
    func smallChunks() throws {
        var (window, net, input, expected) = try Self.setup("window_gaussian")
        window.handOnFloats = 1
        let output = try window.predict(input, network: net)
        #expect(NetworkParityTests.worst(output, expected) <= 1e-4)
    }

    @Test("window positions follow MONAI's dense_patch_slices")
    func starts() throws {
        let window = try SlidingWindow(roi: [96, 96, 96], overlap: 0.5)
        #expect(window.starts(size: 164, axis: 0) == [0, 48, 68])
        #expect(window.starts(size: 108, axis: 0) == [0, 12])
        #expect(window.starts(size: 96, axis: 0) == [0])
        #expect(window.windowCount(size: [108, 164, 164]) == 18)
        let map = window.importanceMap()
        #expect(map.count == 96 * 96 * 96)
        // Symmetric, largest at the centre, clamped at the corners.
        #expect(map[0] == map[map.count - 1])
        #expect(map[(47 * 96 + 47) * 96 + 47] == map.max())
    }

    @Test("bad settings and unsuitable networks are errors")
    func errors() throws {
        #expect(throws: NNError.self) { _ = try SlidingWindow(roi: [96, 96], overlap: 0.5) }
        #expect(throws: NNError.self) { _ = try SlidingWindow(roi: [8, 8, 8], overlap: 1) }
        #expect(throws: NNError.self) { _ = try SlidingWindow(roi: [8, 8, 8], mirrorAxes: [3]) }
        let classifier = try Networks.load(try NetworkParityTests.weights("resnet_basic"))
        let window = try SlidingWindow(roi: [8, 8, 8])
        #expect(throws: NNError.self) { _ = try window.predict(Tensor(zeros: [1, 1, 8, 8, 8]), network: classifier) }
        let (_, net, input, _) = try Self.setup("window_gaussian")
        // ROI not a multiple of the UNet's downsampling factor (4).
        #expect(throws: NNError.self) { _ = try SlidingWindow(roi: [10, 8, 8]).predict(input, network: net) }
    }
}
