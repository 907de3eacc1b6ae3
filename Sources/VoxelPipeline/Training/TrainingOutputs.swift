import Foundation
import VoxelIO
import VoxelSupport

/// The run folder's readable outputs: `report.html` (loss and validation Dice curves, split, excluded cases)
/// and `inference.json`, the pipeline that applies the trained weights to new scans.
enum TrainingOutputs {
    /// Writes `report.html` with the curves drawn as inline SVG (no script, no external file).
    static func writeReport(run: RunFolder, spec: PipelineSpec, training: TrainingSpec, logLines: [String], split: TrainingSplit,
                            excluded: [(String, String)], testRows: [[String]] = [], testHeader: [String] = [],
                            classifierTest: (accuracy: Double, rows: [[String]])? = nil) throws {
        // A classifier validates by accuracy; a segmentation network by the mean Dice of its foreground classes.
        let (validationKey, validationName) = training.isClassification ? ("validationAccuracy", "accuracy") : ("validationMeanDice", "Dice")
        let entries = logLines.compactMap { try? JSONParser.parse($0).json }
        let epochs = entries.compactMap { $0["epoch"]?.doubleValue }
        let losses = entries.compactMap { $0["loss"]?.doubleValue }
        let dice = entries.compactMap { e -> (Double, Double)? in
            guard let x = e["epoch"]?.doubleValue, let y = e[validationKey]?.doubleValue else { return nil }
            return (x, y)
        }
        let esc = HTMLReport.escape
        var html = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(esc(spec.name)) training</title>
        <style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>
        </head><body><h1>\(esc(spec.name)) — training</h1>
        <p>Network: <code>\(esc(training.network.serialized(pretty: false)))</code></p>
        <p>Split: \(split.train.count) training, \(split.validation.count) validation, \(split.test.count) test case(s) (split.json).</p>
        <h2>Training loss</h2>\(svg(Array(zip(epochs, losses)), label: "loss"))
        <h2>Validation \(training.isClassification ? "accuracy" : "mean Dice")</h2>\(dice.isEmpty ? "<p>No validation cases.</p>" : svg(dice, label: validationName, fixedRange: 0...1))
        <h2>Epochs</h2><table><tr><th>epoch</th><th>loss</th><th>learning rate</th><th>validation \(validationName)</th><th>seconds</th></tr>
        """
        for e in entries {
            func cell(_ key: String) -> String { e[key]?.doubleValue.map { String(format: "%.5g", $0) } ?? "" }
            html += "<tr><td>\(cell("epoch"))</td><td>\(cell("loss"))</td><td>\(cell("lr"))</td><td>\(cell(validationKey))</td><td>\(cell("seconds"))</td></tr>"
        }
        html += "</table>"
        if !testRows.isEmpty {
            let shown = ["case", "label", "dice", "iou", "sensitivity", "precision", "hausdorff95_mm", "assd_mm", "surface_dice_1mm"]
            let columns = shown.compactMap { testHeader.firstIndex(of: $0) }
            html += "<h2>Test cases (best weights, on the training grid; test-metrics.csv)</h2><table><tr>"
                + columns.map { "<th>\(esc(testHeader[$0]))</th>" }.joined() + "</tr>"
            for row in testRows {
                html += "<tr>" + columns.map { c in
                    "<td>\(esc(Double(row[c]).map { c > 1 ? String(format: "%.4g", $0) : row[c] } ?? (row[c].isEmpty ? "–" : row[c])))</td>"
                }.joined() + "</tr>"
            }
            html += "</table>"
        }
        if let classifierTest {
            html += "<h2>Test cases (best weights; test-predictions.csv, test-classes.csv)</h2>"
                + "<p>Accuracy \(String(format: "%.4f", classifierTest.accuracy)) on \(classifierTest.rows.count) case(s).</p>"
                + "<table><tr><th>case</th><th>truth</th><th>predicted</th><th>score of the prediction</th></tr>"
                + classifierTest.rows.map { "<tr>" + $0.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
        }
        if !excluded.isEmpty {
            html += "<h2>Excluded cases</h2><ul>" + excluded.map { "<li>\(esc($0.0)): \(esc($0.1))</li>" }.joined() + "</ul>"
        }
        html += "</body></html>\n"
        try AtomicFile.write(Array(html.utf8), to: run.path + "/report.html")
    }

    /// A line chart of (x, y) points as an SVG element.
    static func svg(_ points: [(Double, Double)], label: String, fixedRange: ClosedRange<Double>? = nil) -> String {
        guard let first = points.first else { return "<p>No data.</p>" }
        let (w, h, m) = (640.0, 240.0, 40.0)
        let xs = points.map(\.0), ys = points.map(\.1)
        let x0 = xs.min() ?? first.0, x1 = max(xs.max() ?? first.0, x0 + 1)
        var y0 = fixedRange?.lowerBound ?? (ys.min() ?? 0), y1 = fixedRange?.upperBound ?? (ys.max() ?? 1)
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        func px(_ x: Double) -> Double { m + (x - x0) / (x1 - x0) * (w - 2 * m) }
        func py(_ y: Double) -> Double { h - m - (y - y0) / (y1 - y0) * (h - 2 * m) }
        let path = points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" role="img" aria-label="\(label) by epoch">
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="white" stroke="#ccc"/>
        <polyline fill="none" stroke="#1f77b4" stroke-width="2" points="\(path)"/>
        <text x="\(m)" y="\(h - 10)" font-size="12">epoch \(Int(x0))</text><text x="\(w - m - 60)" y="\(h - 10)" font-size="12">epoch \(Int(x1))</text>
        <text x="4" y="\(m - 8)" font-size="12">\(label) \(String(format: "%.4g", y1))</text><text x="4" y="\(h - m + 14)" font-size="12">\(String(format: "%.4g", y0))</text>
        </svg>
        """
    }

    /// Writes `inference.json`: the training pipeline's inputs without the label inputs, its stages that do not
    /// depend on the labels, a `segment` stage with the best weights, the labels resampled onto the grid of the
    /// first image input, and a NIfTI writer. It validates with `voxelflow validate` and runs with `voxelflow run`.
    static func writeInferencePipeline(run: RunFolder, spec: PipelineSpec, training: TrainingSpec) throws {
        let source = (try? JSONParser.parse(String(decoding: FileManager.default.contents(atPath: run.path + "/pipeline.json") ?? Data(), as: UTF8.self)).json) ?? .null
        guard case .object(let inputs)? = source["inputs"], case .array(let stages)? = source["stages"] else { return }
        var labelIDs = Set(spec.inputs.filter { $0.kind == .labels }.map(\.name))
        let keptInputs = inputs.filter { !labelIDs.contains($0.0) }
        func references(_ value: JSON) -> [String] {
            switch value {
            case .string(let s): return [s]
            case .array(let items): return items.flatMap(references)
            case .object(let members): return members.filter { $0.0 != "id" && $0.0 != "type" }.flatMap { references($0.1) }
            default: return []
            }
        }
        var keptStages: [JSON] = []
        for stage in stages where AugmentationStages.augmentationType[stage["type"]?.stringValue ?? ""] == nil {
            let id = stage["id"]?.stringValue ?? ""
            if references(stage).contains(where: labelIDs.contains) || id == training.label {
                labelIDs.insert(id)
            } else {
                keptStages.append(stage)
            }
        }
        let imageInput = spec.inputs.first { $0.kind == .image }?.name ?? training.image
        if training.isClassification {
            keptStages.append(.object([("id", .string("classification")), ("type", .string("classify")), ("source", .string(training.image)),
                                       ("network", training.network), ("weights", .string("checkpoints/best.safetensors")),
                                       ("classNames", .array(training.classes.map { .string($0) }))]))
            keptStages.append(.object([("id", .string("report")), ("type", .string("write-report"))]))
        } else {
            keptStages.append(.object([("id", .string("segmentation")), ("type", .string("segment")), ("source", .string(training.image)),
                                       ("network", training.network), ("weights", .string("checkpoints/best.safetensors")),
                                       ("roi", .array(training.patch.map { .int($0) })), ("overlap", .number(0.5))]))
            keptStages.append(.object([("id", .string("on-scan")), ("type", .string("resample-to")), ("source", .string("segmentation")),
                                       ("reference", .string(imageInput))]))
            keptStages.append(.object([("id", .string("write")), ("type", .string("write-nifti")), ("source", .string("on-scan")),
                                       ("path", .string("segmentation.nii.gz"))]))
        }
        let pipeline = JSON.object([
            ("voxelflow", .int(PipelineSpec.formatVersion)), ("name", .string(spec.name + "-inference")),
            ("description", .string("Inference with the weights trained by the training pipeline \"\(spec.name)\" (same preprocessing).")),
            ("seed", .int(Int(spec.seed))), ("inputs", .object(keptInputs)), ("stages", .array(keptStages)),
        ])
        try AtomicFile.write(Array(pipeline.serialized().utf8) + [10], to: run.path + "/inference.json")
    }
}
