import ArgumentParser
import Foundation
import VoxelIO
import VoxelMetrics
import VoxelPipeline
import VoxelSupport

struct EvaluateClassificationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-classification",
        abstract: "Compare a classifier's predictions with the reference classes of the cases.",
        discussion: """
        PREDICTIONS is a CSV file with a header holding "case" and "predicted" columns and, for ROC curves, \
        one "score_CLASS" column per class (e.g. score_ct, score_mr); or the output folder of a `run` whose \
        pipeline has a classify stage (each case's report.json; --stage picks the section when there are \
        several). TRUTH is a CSV file whose first two columns are the case and its class (after a header \
        line), or a JSON object {"CASE": "CLASS", …}.

        Reported, with scikit-learn's definitions: accuracy; balanced accuracy (mean recall over the classes \
        that occur in TRUTH); per class precision, recall (sensitivity), F1, specificity and support, with \
        0 where a denominator is 0 (a class never predicted has precision 0); macro averages; the confusion \
        matrix (rows true, columns predicted); with scores, the one-vs-rest ROC curve and AUC of every class \
        that has positive and negative cases, and their mean (for two classes, the AUC of the second class's \
        score). The classes are --classes in that order, else every class seen, sorted.

        A case of TRUTH without a prediction fails (reported, exit code 4); a prediction without a truth is \
        left out with a warning. With --output DIR: classes.csv, confusion-matrix.csv, classification.json \
        and roc.png (the curves in the colours classes.csv lists), each written atomically; existing files \
        are replaced only with --force.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The predictions: a CSV file (case, predicted, score_CLASS…) or a run output folder.")
    var predictions: String

    @Argument(help: "The reference classes: a CSV file (case, class) or a JSON object of case → class.")
    var truth: String

    @Option(name: .long, parsing: .upToNextOption, help: "The classes, in the order of the tables (default: every class seen, sorted).")
    var classes: [String] = []

    @Option(name: .long, help: "In a run output folder: the id of the classify stage whose section is read.")
    var stage: String?

    @Option(name: .long, help: "text or json.")
    var format: String = "text"

    @Option(name: .shortAndLong, help: "A folder for classes.csv, confusion-matrix.csv, classification.json and roc.png.")
    var output: String?

    @Flag(name: .long, help: "Replace existing files in --output.")
    var force = false

    func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
    }

    func run() throws {
        do {
            let predicted = try ClassificationInputs.predictions(predictions, stage: stage)
            let reference = try ClassificationInputs.truth(truth)
            let byCase = Dictionary(predicted.map { ($0.caseID, $0) }, uniquingKeysWith: { first, _ in first })
            var samples: [ClassificationSample] = []
            var failures: [(String, String)] = []
            for (id, cls) in reference.sorted(by: { $0.key < $1.key }) {
                guard let p = byCase[id] else {
                    failures.append((id, "no prediction"))
                    printError("voxelflow: case \(id) failed: no prediction in \(predictions)")
                    continue
                }
                samples.append(ClassificationSample(caseID: id, truth: cls, predicted: p.predicted, scores: p.scores))
            }
            for p in predicted where reference[p.caseID] == nil {
                printError("voxelflow: warning: case \(p.caseID) has no reference class in \(truth); not evaluated")
            }
            let evaluation = try ClassificationEvaluator.evaluate(samples, classes: classes.isEmpty ? nil : classes)
            let json = ClassificationTable.json(evaluation, failures: failures)
            if let dir = output {
                let names = [ClassificationTable.classesFile, ClassificationTable.confusionFile, ClassificationTable.jsonFile, ClassificationTable.rocFile]
                let paths = names.map { "\(dir)/\($0)" }
                try OutputGuard.check(paths, name: paths[0], inputs: [predictions, truth], force: force)
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try AtomicFile.write(Array(ClassificationTable.classesCSV(evaluation).utf8), to: paths[0])
                try AtomicFile.write(Array(ClassificationTable.confusionCSV(evaluation).utf8), to: paths[1])
                try AtomicFile.write(Array((json.serialized(pretty: true) + "\n").utf8), to: paths[2])
                try AtomicFile.write(try ClassificationTable.rocPNG(evaluation), to: paths[3])
            }
            if format == "json" { print(json.serialized(pretty: true)) } else { print(Self.text(evaluation)) }
            if !failures.isEmpty { throw ExitCode(ExitCodes.casesFailed) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw ExitCodes.fail(error)
        }
    }

    static func text(_ e: ClassificationEvaluation) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }
        var lines = ["\(e.count) cases, \(e.classes.count) classes",
                     "accuracy \(f(e.accuracy))  balanced accuracy \(f(e.balancedAccuracy))  macro F1 \(f(e.macroF1))  macro AUC \(f(e.macroAUC))", ""]
        var table = [["class", "support", "precision", "recall", "F1", "specificity", "AUC"]]
        for m in e.perClass { table.append([m.name, String(m.support), f(m.precision), f(m.recall), f(m.f1), f(m.specificity), f(m.auc)]) }
        table.append(["macro", String(e.count), f(e.macroPrecision), f(e.macroRecall), f(e.macroF1), "", f(e.macroAUC)])
        lines += EvaluationText.align(table, leftColumns: 1)
        lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
        lines += EvaluationText.align([[""] + e.classes] + zip(e.classes, e.confusion).map { [$0] + $1.map(String.init) }, leftColumns: 1)
        return lines.joined(separator: "\n")
    }
}
