/// One classified case: its true class, the predicted class and, when the classifier gave them, a score per class
/// (probabilities for ROC curves and AUC).
public struct ClassificationSample: Sendable, Equatable {
    /// The case name.
    public var caseID: String
    /// The reference class.
    public var truth: String
    /// The class the classifier chose.
    public var predicted: String
    /// Class name → score (higher means more likely); empty when the classifier gave none.
    public var scores: [String: Double]

    /// A sample.
    public init(caseID: String, truth: String, predicted: String, scores: [String: Double] = [:]) {
        self.caseID = caseID
        self.truth = truth
        self.predicted = predicted
        self.scores = scores
    }
}

/// Metrics of one class, one-vs-rest.
public struct ClassMetrics: Sendable, Equatable {
    /// The class name.
    public var name: String
    /// Cases whose true class this is.
    public var support: Int
    /// TP / (TP + FP); 0 when the class was never predicted (scikit-learn's `zero_division=0`).
    public var precision: Double
    /// TP / (TP + FN), sensitivity; 0 when the class never occurs.
    public var recall: Double
    /// 2TP / (2TP + FP + FN); 0 when both are 0.
    public var f1: Double
    /// TN / (TN + FP); `nil` when every case is of this class.
    public var specificity: Double?
    /// Area under the one-vs-rest ROC curve; `nil` without scores or when the class has no positive or no negative case.
    public var auc: Double?
    /// The one-vs-rest ROC curve: (false positive rate, true positive rate) from (0, 0) to (1, 1), one point per
    /// distinct score threshold (descending); empty when `auc` is `nil`.
    public var roc: [(falsePositiveRate: Double, truePositiveRate: Double)]

    /// Equal when every field is, the ROC points included.
    public static func == (a: ClassMetrics, b: ClassMetrics) -> Bool {
        a.name == b.name && a.support == b.support && a.precision == b.precision && a.recall == b.recall && a.f1 == b.f1
            && a.specificity == b.specificity && a.auc == b.auc && a.roc.elementsEqual(b.roc) { $0 == $1 }
    }
}

/// The agreement of a classifier's predictions with the reference classes, as scikit-learn's metrics define it.
public struct ClassificationEvaluation: Sendable, Equatable {
    /// The classes, in the order of rows and columns of `confusion`.
    public var classes: [String]
    /// `confusion[t][p]`: cases of true class `classes[t]` predicted as `classes[p]`.
    public var confusion: [[Int]]
    /// Cases evaluated.
    public var count: Int
    /// Correct predictions / cases.
    public var accuracy: Double
    /// The mean recall over the classes that occur in the reference (scikit-learn's `balanced_accuracy_score`).
    public var balancedAccuracy: Double
    /// One entry per class, in `classes` order.
    public var perClass: [ClassMetrics]
    /// Unweighted means over `classes` (scikit-learn's `average="macro"`).
    public var macroPrecision: Double, macroRecall: Double, macroF1: Double
    /// The mean of the defined one-vs-rest AUCs (scikit-learn's `roc_auc_score(multi_class="ovr", average="macro")` when
    /// every class occurs); `nil` without scores. For two classes, the AUC of the second class's scores.
    public var macroAUC: Double?
}

/// Classification metrics: accuracy, balanced accuracy, per-class precision, recall, F1, specificity and ROC AUC,
/// macro averages and the confusion matrix.
public enum ClassificationEvaluator {
    /// Evaluates `samples`.
    /// - Parameter classes: the classes in order; default: every class in the truths, predictions and score names,
    ///   sorted.
    /// - Throws: `MetricsError.invalidClassification` for no samples, a case listed twice, a class outside `classes`,
    ///   or scores that do not cover every class (scores are used only when every sample has them).
    public static func evaluate(_ samples: [ClassificationSample], classes given: [String]? = nil) throws(MetricsError) -> ClassificationEvaluation {
        guard !samples.isEmpty else { throw .invalidClassification("no case to evaluate") }
        var seen = Set<String>()
        for s in samples where !seen.insert(s.caseID).inserted { throw .invalidClassification("case \(s.caseID) is listed twice") }
        let classes = given ?? Array(Set(samples.flatMap { [$0.truth, $0.predicted] + $0.scores.keys })).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let k = classes.count
        var confusion = Array(repeating: Array(repeating: 0, count: k), count: k)
        for s in samples {
            guard let t = index[s.truth] else { throw .invalidClassification("case \(s.caseID): class \"\(s.truth)\" is not one of \(classes)") }
            guard let p = index[s.predicted] else { throw .invalidClassification("case \(s.caseID): predicted class \"\(s.predicted)\" is not one of \(classes)") }
            confusion[t][p] += 1
        }
        let withScores = samples.allSatisfy { !$0.scores.isEmpty }
        if withScores, let s = samples.first(where: { sample in classes.contains { sample.scores[$0] == nil } }) {
            throw .invalidClassification("case \(s.caseID): no score for class \"\(classes.first { s.scores[$0] == nil } ?? "")\"")
        }
        let n = samples.count
        var perClass: [ClassMetrics] = []
        for (c, name) in classes.enumerated() {
            let tp = confusion[c][c]
            let support = confusion[c].reduce(0, +)
            let predicted = (0..<k).reduce(0) { $0 + confusion[$1][c] }
            let fp = predicted - tp, fn = support - tp, tn = n - tp - fp - fn
            var m = ClassMetrics(name: name, support: support,
                                 precision: predicted > 0 ? Double(tp) / Double(predicted) : 0,
                                 recall: support > 0 ? Double(tp) / Double(support) : 0,
                                 f1: 2 * tp + fp + fn > 0 ? Double(2 * tp) / Double(2 * tp + fp + fn) : 0,
                                 specificity: tn + fp > 0 ? Double(tn) / Double(tn + fp) : nil, auc: nil, roc: [])
            if withScores && support > 0 && support < n {
                let points = samples.map { (score: $0.scores[name] ?? 0, positive: $0.truth == name) }
                (m.auc, m.roc) = rocCurve(points)
            }
            perClass.append(m)
        }
        let present = perClass.filter { $0.support > 0 }
        let aucs = perClass.compactMap(\.auc)
        let macroAUC: Double?
        if k == 2 { macroAUC = perClass[1].auc } else { macroAUC = aucs.isEmpty ? nil : aucs.reduce(0, +) / Double(aucs.count) }
        return ClassificationEvaluation(
            classes: classes, confusion: confusion, count: n,
            accuracy: Double((0..<k).reduce(0) { $0 + confusion[$1][$1] }) / Double(n),
            balancedAccuracy: present.map(\.recall).reduce(0, +) / Double(max(1, present.count)),
            perClass: perClass,
            macroPrecision: perClass.map(\.precision).reduce(0, +) / Double(k),
            macroRecall: perClass.map(\.recall).reduce(0, +) / Double(k),
            macroF1: perClass.map(\.f1).reduce(0, +) / Double(k),
            macroAUC: macroAUC)
    }

    /// The ROC curve and its area (trapezoids; ties share one point, so the area equals the Mann–Whitney statistic).
    static func rocCurve(_ points: [(score: Double, positive: Bool)]) -> (Double, [(falsePositiveRate: Double, truePositiveRate: Double)]) {
        let sorted = points.sorted { $0.score > $1.score }
        let positives = Double(sorted.filter(\.positive).count), negatives = Double(sorted.count) - positives
        var curve: [(falsePositiveRate: Double, truePositiveRate: Double)] = [(0, 0)]
        var tp = 0.0, fp = 0.0, area = 0.0
        var i = 0
        while i < sorted.count {
            let score = sorted[i].score
            while i < sorted.count && sorted[i].score == score {
                if sorted[i].positive { tp += 1 } else { fp += 1 }
                i += 1
            }
            let point = (falsePositiveRate: fp / negatives, truePositiveRate: tp / positives)
            if let last = curve.last { area += (point.falsePositiveRate - last.falsePositiveRate) * (point.truePositiveRate + last.truePositiveRate) / 2 }
            curve.append(point)
        }
        return (area, curve)
    }
}
