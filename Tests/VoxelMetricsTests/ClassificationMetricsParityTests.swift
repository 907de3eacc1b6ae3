import Foundation
import Testing
import TestSupport
import VoxelMetrics

/// Classification metrics against scikit-learn (`scripts/oracles/make_classification_fixtures.py`).
@Suite("Classification metrics match scikit-learn")
struct ClassificationMetricsParityTests {
    static let fixtures = TestPaths.repositoryRoot + "/Tests/Fixtures/metrics"

    /// The samples of one fixture problem (plain CSV: no quoted fields).
    static func samples(_ name: String) throws -> [ClassificationSample] {
        func rows(_ file: String) throws -> [[String]] {
            try String(contentsOfFile: "\(fixtures)/classification_\(name)_\(file).csv", encoding: .utf8)
                .split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        }
        let predictions = try rows("predictions"), truth = try rows("truth")
        let header = try #require(predictions.first)
        let classOf = Dictionary(uniqueKeysWithValues: truth.dropFirst().map { ($0[0], $0[1]) })
        return try predictions.dropFirst().map { row in
            var scores: [String: Double] = [:]
            for (c, column) in header.enumerated() where column.hasPrefix("score_") { scores[String(column.dropFirst(6))] = Double(row[c]) }
            return ClassificationSample(caseID: row[0], truth: try #require(classOf[row[0]]), predicted: row[1], scores: scores)
        }
    }

    static func oracle(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/classification_oracle.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(root[name] as? [String: Any])
    }

    @Test("Every metric equals scikit-learn's", arguments: ["three", "binary", "sparse"])
    func parity(problem: String) throws {
        let o = try Self.oracle(problem)
        let classes = try #require(o["classes"] as? [String])
        let e = try ClassificationEvaluator.evaluate(try Self.samples(problem), classes: classes)
        #expect(e.confusion == (o["confusion"] as? [[Int]]))
        func close(_ ours: Double?, _ theirs: Any?, _ what: String) {
            guard let t = theirs as? Double else { Issue.record("\(what): no oracle value"); return }
            guard let ours else { Issue.record("\(what): undefined, scikit-learn has \(t)"); return }
            #expect(abs(ours - t) < 1e-12, "\(what): \(ours) against scikit-learn's \(t)")
        }
        close(e.accuracy, o["accuracy"], "accuracy")
        close(e.balancedAccuracy, o["balancedAccuracy"], "balanced accuracy")
        close(e.macroPrecision, o["macroPrecision"], "macro precision")
        close(e.macroRecall, o["macroRecall"], "macro recall")
        close(e.macroF1, o["macroF1"], "macro F1")
        let p = try #require(o["precision"] as? [Double]), r = try #require(o["recall"] as? [Double])
        let f = try #require(o["f1"] as? [Double]), s = try #require(o["support"] as? [Int])
        for (n, m) in e.perClass.enumerated() {
            close(m.precision, p[n], "\(m.name) precision"); close(m.recall, r[n], "\(m.name) recall"); close(m.f1, f[n], "\(m.name) F1")
            #expect(m.support == s[n])
        }
        if let aucs = o["auc"] as? [Double] {
            for (n, m) in e.perClass.enumerated() { close(m.auc, aucs[n], "\(m.name) AUC") }
            close(e.macroAUC, o["macroAUC"], "macro AUC")
            for m in e.perClass {
                #expect(m.roc.first.map { $0 == (0, 0) } == true && m.roc.last.map { $0 == (1, 1) } == true)
            }
        } else {
            #expect(e.macroAUC == nil && e.perClass.allSatisfy { $0.auc == nil && $0.roc.isEmpty })
        }
    }

    @Test("Refusals: no case, a case twice, an unknown class, scores missing a class")
    func refusals() {
        let a = ClassificationSample(caseID: "a", truth: "x", predicted: "y")
        #expect(throws: MetricsError.self) { try ClassificationEvaluator.evaluate([]) }
        #expect(throws: MetricsError.self) { try ClassificationEvaluator.evaluate([a, a]) }
        #expect(throws: MetricsError.self) { try ClassificationEvaluator.evaluate([a], classes: ["x"]) }
        let scored = ClassificationSample(caseID: "b", truth: "x", predicted: "x", scores: ["x": 0.9])
        #expect(throws: MetricsError.self) { try ClassificationEvaluator.evaluate([scored, ClassificationSample(caseID: "c", truth: "y", predicted: "x", scores: ["x": 0.2, "y": 0.8])]) }
    }
}
