import Foundation
import VoxelCore
import VoxelNN

/// Times MONAI UNet inference on the input stored in a weights file (written by Benchmarks/unet.py).
enum NetworkBenchmark {
    static func unet(weightsPath: String, repeats: Int, dump: String?) throws {
        let weights = try Safetensors(path: weightsPath)
        let config = try JSONParser.parse(weights.metadata["config"] ?? "{}")
        var net = try MonaiUNet(configuration: config)
        try net.load(from: weights)
        let input = try weights.tensor("input")
        var times: [Double] = []
        var output: Tensor?
        for _ in 0..<repeats { times.append(try seconds { output = try net.forward(input) }) }
        if let dump, let output { try output.data.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dump)) } }
        emit(["tool": "voxelflow", "op": "unet", "times": times, "best": times.min() ?? 0, "threads": System.coreCount])
    }
}
