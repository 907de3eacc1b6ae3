import Foundation
import VoxelNN
import VoxelSupport

/// Times training steps (forward, DiceCE loss — cross-entropy for a classifier —, backward, Adam update) on the batch stored in a weights file
/// written by Benchmarks/training.py: the network is described by metadata `config`, its initial weights are
/// the file's other tensors, the batch is `input` and `target` (class indices).
enum TrainingBenchmark {
    static func run(weightsPath: String, steps: Int) throws {
        let file = try Safetensors(path: weightsPath)
        let config = try JSONParser.parse(file.metadata["config"] ?? "{}").json
        guard let net = try Networks.make(config) as? any TrainableNetwork else {
            throw NNError.invalidInput("\(config["type"]?.stringValue ?? "?") cannot be trained")
        }
        var params = try ParameterStore(network: net, weights: file)
        let input = try file.tensor("input"), labels = try file.tensor("target")
        var optimizer = Optimizer(.adam(beta1: 0.9, beta2: 0.999, eps: 1e-8))
        // A classifier takes one class index per sample and cross-entropy (as training.py gives PyTorch).
        let target = net.isClassifier ? try labels.reshaped([labels.count, 1, 1, 1]) : labels
        let loss: any Loss = net.isClassifier ? CrossEntropyLoss() : DiceCELoss()
        var times: [Double] = [], losses: [Double] = []
        var forwardBackward: [Double] = []
        for _ in 0..<steps {
            var value: Float = 0
            times.append(try seconds {
                var step: TrainingStep.Result?
                forwardBackward.append(try seconds {
                    step = try TrainingStep.run(network: net, parameters: params, input: input, target: target, loss: loss)
                })
                guard let step else { return }
                value = step.loss
                try optimizer.update(&params, gradients: step.gradients, lr: 1e-3)
                params.updateRunningStatistics(step.batchStatistics)
            })
            losses.append(Double(value))
        }
        let sorted = times.sorted()
        emit(["tool": "voxelflow", "op": "train-step", "times": times, "best": sorted.first ?? 0, "median": sorted[sorted.count / 2],
              "forward_backward": forwardBackward, "losses": losses, "threads": System.coreCount,
              "peak_rss_mb": NetworkBenchmark.peakResidentMegabytes()])
    }
}
