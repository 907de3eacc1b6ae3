import Foundation
import VoxelCore
import VoxelNN

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

    /// Peak resident memory of this process so far, in MB (getrusage).
    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
