import Foundation
import VoxelCore
import VoxelNN
import VoxelSupport

/// Times networks on the input stored in a weights file (written by Benchmarks/network.py): the network is
/// the one described in the file's metadata `config`; sliding-window settings come from metadata `window`.
enum NetworkBenchmark {
    static func loaded(_ weightsPath: String) throws -> (Safetensors, any Network, Tensor) {
        let weights = try Safetensors(path: weightsPath)
        let net = try Networks.load(weights)
        return (weights, net, try weights.tensor("input"))
    }

    static func dump(_ output: Tensor?, to path: String?) throws {
        guard let path, let output else { return }
        try output.data.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
    }

    static func network(weightsPath: String, repeats: Int, dump path: String?) throws {
        let (_, net, input) = try loaded(weightsPath)
        var times: [Double] = []
        var output: Tensor?
        for _ in 0..<repeats { times.append(try seconds { output = try net.forward(input) }) }
        try dump(output, to: path)
        emit(["tool": "voxelflow", "op": "network", "times": times, "best": times.min() ?? 0, "threads": System.coreCount,
              "peak_rss_mb": peakResidentMegabytes()])
    }

    static func slidingWindow(weightsPath: String, repeats: Int, dump path: String?) throws {
        let (weights, net, input) = try loaded(weightsPath)
        let settings = try JSONParser.parse(weights.metadata["window"] ?? "{}").json
        let roi = (settings["roi"].flatMap { if case .array(let a) = $0 { return a.compactMap { $0.doubleValue.map { Int($0) } } } else { return nil } }) ?? [96, 96, 96]
        let window = try SlidingWindow(roi: roi, overlap: settings["overlap"]?.doubleValue ?? 0.5,
                                       batchSize: Int(settings["batch"]?.doubleValue ?? 1))
        var times: [Double] = []
        var output: Tensor?
        for _ in 0..<repeats { times.append(try seconds { output = try window.predict(input, network: net) }) }
        let afterPredict = peakResidentMegabytes()
        var labelTimes: [Double] = []
        for _ in 0..<repeats { labelTimes.append(try seconds { _ = try window.labels(input, network: net) }) }
        try dump(output, to: path)
        emit(["tool": "voxelflow", "op": "sliding-window", "times": times, "best": times.min() ?? 0, "labels_times": labelTimes,
              "labels_best": labelTimes.min() ?? 0, "windows": window.windowCount(size: Array(input.shape[2...])),
              "threads": System.coreCount, "peak_rss_mb": afterPredict])
    }

    /// Peak resident memory of this process so far, in MB (VmHWM from /proc/self/status, which starts
    /// afresh at exec — unlike getrusage's maximum, which a child inherits from its parent).
    static func peakResidentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}

/// Per-layer speed of the convolutions of a network (`layers --set basicunet|nnunet|segresnet|dynunet`): each layer
/// runs on random data of its own input shape; GFLOP counts multiply and add (2 per multiply-accumulate of the direct
/// convolution, so Winograd layers show an equivalent rate). sgemm's peak on the same cores is measured first
/// (one single-threaded 1536² × 1536 product per core at once, as the convolution kernels drive OpenBLAS) and each
/// layer's rate is also given as a fraction of it.
enum LayerBenchmark {
    struct Case {
        let name: String
        let cin: Int, cout: Int, size: Int
        let transposed: Bool
        var stride = 1
        var kernel = 3
    }

    static let basicUNet: [Case] = [
        Case(name: "conv_0.conv_0 1→32 @96³", cin: 1, cout: 32, size: 96, transposed: false),
        Case(name: "conv_0.conv_1 32→32 @96³", cin: 32, cout: 32, size: 96, transposed: false),
        Case(name: "down_1 32→32 @48³", cin: 32, cout: 32, size: 48, transposed: false),
        Case(name: "down_2.conv_0 32→64 @24³", cin: 32, cout: 64, size: 24, transposed: false),
        Case(name: "down_2.conv_1 64→64 @24³", cin: 64, cout: 64, size: 24, transposed: false),
        Case(name: "down_3.conv_1 128→128 @12³", cin: 128, cout: 128, size: 12, transposed: false),
        Case(name: "down_4.conv_1 256→256 @6³", cin: 256, cout: 256, size: 6, transposed: false),
        Case(name: "upcat_4.deconv 256→128 k2 @6³", cin: 256, cout: 128, size: 6, transposed: true),
        Case(name: "upcat_1.deconv 32→32 k2 @48³", cin: 32, cout: 32, size: 48, transposed: true),
        Case(name: "upcat_1.conv_0 64→32 @96³", cin: 64, cout: 32, size: 96, transposed: false),
    ]

    /// The convolutions of nnU-Net's CT 3d_fullres PlainConvUNet (features 32…320, patch 128³), one per shape.
    static let nnUNet: [Case] = [
        Case(name: "enc0.conv0 1→32 @128³", cin: 1, cout: 32, size: 128, transposed: false),
        Case(name: "enc0.conv1 32→32 @128³", cin: 32, cout: 32, size: 128, transposed: false),
        Case(name: "enc1.conv1 64→64 @64³", cin: 64, cout: 64, size: 64, transposed: false),
        Case(name: "enc2.conv1 128→128 @32³", cin: 128, cout: 128, size: 32, transposed: false),
        Case(name: "enc3.conv1 256→256 @16³", cin: 256, cout: 256, size: 16, transposed: false),
        Case(name: "enc4.conv1 320→320 @8³", cin: 320, cout: 320, size: 8, transposed: false),
        Case(name: "dec0.transp 64→32 k2 @64³", cin: 64, cout: 32, size: 64, transposed: true),
        Case(name: "dec0.conv0 64→32 @128³", cin: 64, cout: 32, size: 128, transposed: false),
        Case(name: "dec1.conv0 128→64 @64³", cin: 128, cout: 64, size: 64, transposed: false),
    ]

    /// SegResNet at MONAI's whole-body CT bundle configuration (32 initial filters) on a 96³ window, one per shape.
    static let segResNet: [Case] = [
        Case(name: "convInit 1→32 @96³", cin: 1, cout: 32, size: 96, transposed: false),
        Case(name: "down0 block 32→32 @96³", cin: 32, cout: 32, size: 96, transposed: false),
        Case(name: "down1.0 32→64 s2 @96³", cin: 32, cout: 64, size: 96, transposed: false, stride: 2),
        Case(name: "down1 block 64→64 @48³", cin: 64, cout: 64, size: 48, transposed: false),
        Case(name: "down2.0 64→128 s2 @48³", cin: 64, cout: 128, size: 48, transposed: false, stride: 2),
        Case(name: "down2 block 128→128 @24³", cin: 128, cout: 128, size: 24, transposed: false),
        Case(name: "down3.0 128→256 s2 @24³", cin: 128, cout: 256, size: 24, transposed: false, stride: 2),
        Case(name: "down3 block 256→256 @12³", cin: 256, cout: 256, size: 12, transposed: false),
        Case(name: "up0 1×1 256→128 @12³", cin: 256, cout: 128, size: 12, transposed: false, kernel: 1),
        Case(name: "up2 1×1 64→32 @48³", cin: 64, cout: 32, size: 48, transposed: false, kernel: 1),
        Case(name: "final 1×1 32→105 @96³", cin: 32, cout: 105, size: 96, transposed: false, kernel: 1),
    ]

    /// DynUNet as nnU-Net plans a 3D full-resolution network (filters 32…320, strides 1, 2, 2, 2, 2, 2) on 96³.
    static let dynUNet: [Case] = [
        Case(name: "input 1→32 @96³", cin: 1, cout: 32, size: 96, transposed: false),
        Case(name: "input.conv2 32→32 @96³", cin: 32, cout: 32, size: 96, transposed: false),
        Case(name: "down0.conv1 32→64 s2 @96³", cin: 32, cout: 64, size: 96, transposed: false, stride: 2),
        Case(name: "down0.conv2 64→64 @48³", cin: 64, cout: 64, size: 48, transposed: false),
        Case(name: "down1.conv1 64→128 s2 @48³", cin: 64, cout: 128, size: 48, transposed: false, stride: 2),
        Case(name: "down1.conv2 128→128 @24³", cin: 128, cout: 128, size: 24, transposed: false),
        Case(name: "down2.conv1 128→256 s2 @24³", cin: 128, cout: 256, size: 24, transposed: false, stride: 2),
        Case(name: "down2.conv2 256→256 @12³", cin: 256, cout: 256, size: 12, transposed: false),
        Case(name: "down3.conv1 256→320 s2 @12³", cin: 256, cout: 320, size: 12, transposed: false, stride: 2),
        Case(name: "down3.conv2 320→320 @6³", cin: 320, cout: 320, size: 6, transposed: false),
        Case(name: "up1.transp 320→256 k2 @6³", cin: 320, cout: 256, size: 6, transposed: true),
        Case(name: "up2.transp 256→128 k2 @12³", cin: 256, cout: 128, size: 12, transposed: true),
        Case(name: "up3.transp 128→64 k2 @24³", cin: 128, cout: 64, size: 24, transposed: true),
        Case(name: "up4.transp 64→32 k2 @48³", cin: 64, cout: 32, size: 48, transposed: true),
        Case(name: "up4.conv1 64→32 @96³", cin: 64, cout: 32, size: 96, transposed: false),
    ]

    /// GFLOP/s of one single-threaded sgemm (m = n = k = 1536) per worker, all at once, best of 3.
    static func sgemmPeak() -> Double {
        let size = 1536, workers = ComputeBudget.threads
        let a = [Float](repeating: 0.5, count: size * size)
        var best = Double.infinity
        for _ in 0..<3 {
            let t = seconds {
                Parallel.perform(workers) { _ in
                    var c = [Float](repeating: 0, count: size * size)
                    GEMM.multiply(m: size, n: size, k: size, a: a, b: a, c: &c)
                }
            }
            best = min(best, t)
        }
        return 2 * Double(size * size * size) * Double(workers) / 1e9 / best
    }

    static func run(repeats: Int, set: String = "basicunet") throws {
        var rows: [[String: Any]] = []
        var generator = SeededGenerator(seed: 1)
        let peak = sgemmPeak()
        let cases = ["nnunet": nnUNet, "segresnet": segResNet, "dynunet": dynUNet][set] ?? basicUNet
        for c in cases {
            let taps = c.transposed ? 8 : c.kernel * c.kernel * c.kernel
            var weight = Tensor(zeros: c.transposed ? [c.cin, c.cout, 2, 2, 2] : [c.cout, c.cin, c.kernel, c.kernel, c.kernel])
            for i in 0..<weight.count { weight.data[i] = Float(generator.unit() - 0.5) * 0.1 }
            var x = Tensor(zeros: [1, c.cin, c.size, c.size, c.size])
            for i in 0..<x.count { x.data[i] = Float(generator.unit()) }
            let outSize = c.transposed ? c.size * 2 : c.size / c.stride
            // Transposed: every input voxel meets every tap once.
            let macs = Double(c.cin * c.cout * taps) * Double(c.transposed ? c.size * c.size * c.size : outSize * outSize * outSize)
            var times: [Double] = []
            if c.transposed {
                var layer = ConvTranspose3d(inChannels: c.cin, outChannels: c.cout, kernel: [2, 2, 2], stride: [2, 2, 2])
                layer.weight = weight
                for _ in 0..<repeats { times.append(try seconds { _ = try layer.forward(x) }) }
            } else {
                var layer = Conv3d(inChannels: c.cin, outChannels: c.cout, kernel: Array(repeating: c.kernel, count: 3),
                                   stride: Array(repeating: c.stride, count: 3), padding: Array(repeating: c.kernel / 2, count: 3))
                layer.weight = weight
                for _ in 0..<repeats { times.append(try seconds { _ = try layer.forward(x) }) }
            }
            let best = times.min() ?? 0
            let rate = 2 * macs / 1e9 / best
            rows.append(["layer": c.name, "best_s": best, "gflop": 2 * macs / 1e9, "gflops_per_s": rate, "fraction_of_sgemm_peak": rate / peak])
        }
        emit(["tool": "voxelflow", "op": "layers", "set": set, "sgemm_peak_gflops_per_s": peak, "layers": rows, "threads": System.coreCount])
    }
}

/// Peak memory of streamed sliding-window labels on a large synthetic volume (`window-memory D H W
/// CLASSES`): a small plain UNet (channels 2, 4, 8, no residual units) with `CLASSES` outputs, ROI 96³,
/// overlap 0.5, Gaussian. The network is tiny so that the score slab dominates memory.
enum WindowMemoryBenchmark {
    static func run(size: [Int], classes: Int) throws {
        let net = try MonaiUNet(inChannels: 1, outChannels: classes, channels: [2, 4, 8], strides: [2, 2], numResUnits: 0)
        var input = Tensor(zeros: [1, 1] + size)
        for i in 0..<input.count { input.data[i] = Float(i % 97) / 97 }
        let window = try SlidingWindow(roi: [96, 96, 96], overlap: 0.5)
        let before = NetworkBenchmark.peakResidentMegabytes()
        var labels: VoxelArray = .uint8([])
        let time = try seconds { labels = try window.labels(input, network: net) }
        let inputMB = Double(input.count * 4) / 1e6
        let slabMB = Double(classes * 96 * size[1] * size[2] * 4) / 1e6
        let fullMB = Double(classes * size.reduce(1, *) * 4) / 1e6
        emit(["tool": "voxelflow", "op": "window-memory", "size": size, "classes": classes, "seconds": time,
              "windows": window.windowCount(size: size), "labels": labels.count,
              "peak_rss_mb": NetworkBenchmark.peakResidentMegabytes(), "peak_rss_before_mb": before, "input_mb": inputMB,
              "score_slab_mb": slabMB, "full_scores_mb": fullMB])
    }
}
