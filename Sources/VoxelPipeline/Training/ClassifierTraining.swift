import Foundation
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelNN
import VoxelSupport

extension Trainer {
    /// A classifier on whole preprocessed volumes, in evaluation mode (batch norm on the running statistics).
    /// Returns the class probabilities (softmax) of `image`.
    static func classProbabilities(_ net: any Network, _ image: Volume) throws -> [Double] {
        let logits = try net.forward(image.trainingTensor()).data.map(Double.init)
        let top = logits.max() ?? 0
        let e = logits.map { Foundation.exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// Accuracy of the classifier on the validation cases, the mean probability it gives each case's true class,
    /// and the score that picks the best checkpoint: accuracy, ties broken by that probability.
    func validateClassifier(network: any TrainableNetwork, parameters: ParameterStore, cases: [TrainingCase])
        throws -> (accuracy: Double, trueProbability: Double, score: Double) {
        var net: any Network = network
        try net.load(from: parameters.safetensors())
        var correct = 0, probability = 0.0
        for c in cases {
            let p = try Self.classProbabilities(net, c.image)
            let truth = c.classIndex ?? 0
            if p.indices.max(by: { p[$0] < p[$1] }) == truth { correct += 1 }
            probability += truth < p.count ? p[truth] : 0
        }
        let n = Double(max(1, cases.count))
        let accuracy = Double(correct) / n
        return (accuracy, probability / n, accuracy + 1e-3 * probability / n)
    }

    /// The best weights on the test cases: writes `test-predictions.csv` (case, truth, prediction, one score per
    /// class), `test-classes.csv` (precision, recall, F1, specificity, AUC per class), `test-confusion-matrix.csv` and
    /// `test-classification.json`, and returns the accuracy with one row per case (case, truth, prediction, its score).
    func testClassifier(network: any TrainableNetwork, weights: String, cases: [TrainingCase], run: RunFolder) throws -> (accuracy: Double, rows: [[String]]) {
        var net: any Network = network
        try net.load(from: Safetensors(path: weights))
        let names = training.classes
        var samples: [ClassificationSample] = []
        var csv = "case,truth,predicted," + names.map { "score_" + $0 }.joined(separator: ",") + "\n"
        var rows: [[String]] = []
        for c in cases {
            let p = try Self.classProbabilities(net, c.image)
            let best = p.indices.max(by: { p[$0] < p[$1] }) ?? 0
            let truth = names[min(c.classIndex ?? 0, names.count - 1)], predicted = names[min(best, names.count - 1)]
            var scores: [String: Double] = [:]
            for (k, name) in names.enumerated() where k < p.count { scores[name] = p[k] }
            samples.append(ClassificationSample(caseID: c.id, truth: truth, predicted: predicted, scores: scores))
            rows.append([c.id, truth, predicted, String(format: "%.4f", best < p.count ? p[best] : 0)])
            csv += "\(c.id),\(truth),\(predicted)," + names.indices.map { $0 < p.count ? String(format: "%.6f", p[$0]) : "" }.joined(separator: ",") + "\n"
        }
        let evaluation = try ClassificationEvaluator.evaluate(samples, classes: names)
        try AtomicFile.write(Array(csv.utf8), to: run.path + "/test-predictions.csv")
        try AtomicFile.write(Array(ClassificationTable.classesCSV(evaluation).utf8), to: run.path + "/test-classes.csv")
        try AtomicFile.write(Array(ClassificationTable.confusionCSV(evaluation).utf8), to: run.path + "/test-confusion-matrix.csv")
        try AtomicFile.write(Array(ClassificationTable.json(evaluation).serialized().utf8) + [10], to: run.path + "/test-classification.json")
        return (evaluation.accuracy, rows)
    }
}
