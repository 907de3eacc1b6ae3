import VoxelIO
import VoxelMetrics
import VoxelSupport

/// Classification metrics as files: `classes.csv` (per class), `confusion-matrix.csv`, `classification.json` and
/// `roc.png` (one-vs-rest ROC curves, one colour per class).
public enum ClassificationTable {
    /// File names in the output folder.
    public static let classesFile = "classes.csv", confusionFile = "confusion-matrix.csv", jsonFile = "classification.json", rocFile = "roc.png"

    /// Curve colours, in class order (repeated past eight classes).
    public static let colors: [[UInt8]] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                                           [140, 86, 75], [227, 119, 194], [23, 190, 207]]

    /// Per class: support, precision, recall, F1, specificity, AUC, and the curve colour; then the macro row.
    public static func classesCSV(_ e: ClassificationEvaluation) -> String {
        func n(_ v: Double?) -> String { v.map(JSON.format) ?? "" }
        var rows = e.perClass.enumerated().map { c, m in
            [m.name, String(m.support), n(m.precision), n(m.recall), n(m.f1), n(m.specificity), n(m.auc), colorName(c)]
        }
        rows.append(["macro", String(e.count), n(e.macroPrecision), n(e.macroRecall), n(e.macroF1), "", n(e.macroAUC), ""])
        return EvaluationTable.csv(header: ["class", "support", "precision", "recall", "f1", "specificity", "auc", "roc_color"], rows: rows)
    }

    /// Rows: true class; columns: predicted class.
    public static func confusionCSV(_ e: ClassificationEvaluation) -> String {
        EvaluationTable.csv(header: ["true \\ predicted"] + e.classes,
                            rows: zip(e.classes, e.confusion).map { [$0] + $1.map(String.init) })
    }

    /// Everything, for reports and `--format json`.
    public static func json(_ e: ClassificationEvaluation, failures: [(String, String)] = []) -> JSON {
        func n(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        return .object([
            ("cases", .int(e.count)), ("accuracy", .number(e.accuracy)), ("balanced_accuracy", .number(e.balancedAccuracy)),
            ("macro_precision", .number(e.macroPrecision)), ("macro_recall", .number(e.macroRecall)), ("macro_f1", .number(e.macroF1)),
            ("macro_auc", n(e.macroAUC)), ("classes", .array(e.classes.map { .string($0) })),
            ("confusion_matrix", .array(e.confusion.map { .array($0.map { .int($0) }) })),
            ("per_class", .array(e.perClass.map { m in
                .object([("class", .string(m.name)), ("support", .int(m.support)), ("precision", .number(m.precision)),
                         ("recall", .number(m.recall)), ("f1", .number(m.f1)), ("specificity", n(m.specificity)), ("auc", n(m.auc)),
                         ("roc", .array(m.roc.map { .array([.number($0.falsePositiveRate), .number($0.truePositiveRate)]) }))])
            })),
            ("failed", .array(failures.map { .object([("case", .string($0.0)), ("reason", .string($0.1))]) })),
        ])
    }

    /// The one-vs-rest ROC curves as a PNG (`size` × `size` pixels): white background, grey axes box with ticks at 0.1,
    /// the dashed chance diagonal, one curve per class with an AUC in `colors` order. False positive rate runs right,
    /// true positive rate up.
    public static func rocPNG(_ e: ClassificationEvaluation, size: Int = 400) throws -> [UInt8] {
        var rgb = [UInt8](repeating: 255, count: size * size * 3)
        let margin = size / 10, span = size - 2 * margin
        func put(_ x: Int, _ y: Int, _ color: [UInt8]) {
            guard x >= 0, y >= 0, x < size, y < size else { return }
            let n = 3 * (y * size + x)
            rgb[n] = color[0]; rgb[n + 1] = color[1]; rgb[n + 2] = color[2]
        }
        func pixel(_ fpr: Double, _ tpr: Double) -> (Double, Double) {
            (Double(margin) + fpr * Double(span), Double(size - margin) - tpr * Double(span))
        }
        func line(_ a: (Double, Double), _ b: (Double, Double), _ color: [UInt8], width: Int = 1, dash: Int = 0) {
            let steps = max(1, Int(max(abs(b.0 - a.0), abs(b.1 - a.1)) * 2))
            for s in 0...steps {
                if dash > 0 && (s / (2 * dash)) % 2 == 1 { continue }
                let t = Double(s) / Double(steps)
                let x = Int((a.0 + (b.0 - a.0) * t).rounded()), y = Int((a.1 + (b.1 - a.1) * t).rounded())
                for dx in -(width / 2)...(width / 2) { for dy in -(width / 2)...(width / 2) { put(x + dx, y + dy, color) } }
            }
        }
        let grey: [UInt8] = [120, 120, 120], light: [UInt8] = [225, 225, 225]
        for tick in 1..<10 {
            let v = Double(tick) / 10
            line(pixel(v, 0), pixel(v, 1), light)
            line(pixel(0, v), pixel(1, v), light)
        }
        for (a, b) in [((0.0, 0.0), (1.0, 0.0)), ((1, 0), (1, 1)), ((1, 1), (0, 1)), ((0, 1), (0, 0))] {
            line(pixel(a.0, a.1), pixel(b.0, b.1), grey)
        }
        for tick in 0...10 {
            let v = Double(tick) / 10, (x, _) = pixel(v, 0), (_, y) = pixel(0, v)
            line((x, Double(size - margin)), (x, Double(size - margin + 5)), grey)
            line((Double(margin - 5), y), (Double(margin), y), grey)
        }
        line(pixel(0, 0), pixel(1, 1), grey, dash: 4)
        for (c, m) in e.perClass.enumerated() where m.auc != nil {
            for (a, b) in zip(m.roc, m.roc.dropFirst()) {
                line(pixel(a.falsePositiveRate, a.truePositiveRate), pixel(b.falsePositiveRate, b.truePositiveRate), colors[c % colors.count], width: 3)
            }
        }
        return try PNG.encode(rgb: rgb, width: size, height: size)
    }

    static func colorName(_ c: Int) -> String {
        let rgb = colors[c % colors.count]
        return "#" + rgb.map { String(format: "%02x", $0) }.joined()
    }
}
