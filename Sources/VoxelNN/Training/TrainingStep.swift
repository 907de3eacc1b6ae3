import VoxelSupport

extension ParameterStore {
    /// Fresh parameters for `network` as PyTorch initialises its layers: convolution and linear weights
    /// uniform in ±1/√fan_in (`kaiming_uniform_(a=√5)`, fan_in = dim 1 × kernel taps) and their biases in
    /// the same bound; PReLU slopes 0.25; norm weights and running variances 1; other vectors 0. The draw
    /// comes from `seed`, so the same seed gives the same start on every machine (not PyTorch's numbers).
    /// - Throws: what `Safetensors.parameterShapes(of:)` throws.
    public static func initialized(for network: any Network, seed: UInt64) throws -> ParameterStore {
        let shapes = try Safetensors.parameterShapes(of: network)
        let byName = Dictionary(shapes, uniquingKeysWith: { a, _ in a })
        var rng = SeededGenerator(seed: seed)
        var out: [(String, Tensor)] = []
        for (name, shape) in shapes {
            let prefix = name.split(separator: ".").dropLast().joined(separator: ".")
            let leaf = name.split(separator: ".").last.map(String.init) ?? name
            let weightShape = byName[(prefix.isEmpty ? "" : prefix + ".") + "weight"]
            var t = Tensor(zeros: shape)
            if leaf == "weight" && shape.count >= 2 || leaf == "bias" && (weightShape?.count ?? 0) >= 2 {
                let ws = leaf == "weight" ? shape : (weightShape ?? shape)
                let fanIn = ws.dropFirst().reduce(1, *)
                let bound = 1 / Double(max(1, fanIn)).squareRoot()
                for i in 0..<t.count { t.data[i] = Float(rng.uniform(-bound...bound)) }
            } else if leaf == "weight" {
                // PReLU slopes: MONAI's ADN names them `….A.weight`, DynUNet's blocks `….lrelu.weight`.
                let prelu = prefix.hasSuffix(".A") || prefix == "A" || prefix.hasSuffix(".lrelu")
                let value: Float = prelu ? 0.25 : 1
                t = Tensor(repeating: value, shape: shape)
            } else if leaf == "running_var" {
                t = Tensor(repeating: 1, shape: shape)
            }
            out.append((name, t))
        }
        return ParameterStore(out)
    }
}

/// One forward and backward pass of a network on a batch.
public enum TrainingStep {
    /// What one step computed.
    public struct Result: Sendable {
        /// The loss value.
        public var loss: Float
        /// The network's output on the batch.
        public var logits: Tensor
        /// The gradient of every parameter by state_dict name.
        public var gradients: [String: Tensor]
        /// The batch statistics of each batch normalisation, by layer prefix (empty for networks without one):
        /// fold them into the running statistics with `ParameterStore.updateRunningStatistics`.
        public var batchStatistics: [String: BatchStatistics]
    }

    /// The loss of `network` (with `parameters`) on `input` against `target`, and the gradient of every
    /// parameter by name.
    /// - Throws: `NNError.invalidInput` when the input or target does not fit.
    public static func gradients(network: any TrainableNetwork, parameters: ParameterStore, input: Tensor, target: Tensor,
                                 loss: any Loss) throws -> (loss: Float, logits: Tensor, gradients: [String: Tensor]) {
        let r = try run(network: network, parameters: parameters, input: input, target: target, loss: loss)
        return (r.loss, r.logits, r.gradients)
    }

    /// As `gradients`, with the batch statistics of the step's batch normalisations.
    /// - Throws: `NNError.invalidInput` when the input or target does not fit.
    /// `dropoutSeed` draws the step's dropout masks (networks with dropout only).
    public static func run(network: any TrainableNetwork, parameters: ParameterStore, input: Tensor, target: Tensor,
                           loss: any Loss, dropoutSeed: UInt64 = 0) throws -> Result {
        let tape = GradientTape(parameters: parameters)
        tape.dropoutSeed = dropoutSeed
        let output = try network.forward(tape.constant(input), on: tape)
        let evaluation = try loss.evaluate(logits: output.value, target: target)
        tape.backward(from: output, gradient: evaluation.gradient)
        return Result(loss: evaluation.value, logits: output.value, gradients: tape.parameterGradients, batchStatistics: tape.batchStatistics)
    }
}
