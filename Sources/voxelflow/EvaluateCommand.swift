import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelPipeline
import VoxelSupport
import VoxelTransforms

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compare segmentations with reference segmentations, label by label.",
        discussion: """
        PREDICTION and REFERENCE are two label files (NIfTI, DICOM SEG, or one RT Structure Set: its contours \
        are drawn on the other file's grid and its ROIs become labels by name through --label-table, else \
        through the other file's segment names, else by their order) or two folders of them. Folders \
        are paired by case name (the file name without .nii.gz, .nii or .dcm): every label file directly in \
        REFERENCE is a case, and its prediction is the file of the same name in PREDICTION, or with \
        --prediction-file NAME the file PREDICTION/CASE/NAME or PREDICTION/cases/CASE/NAME (a `run` output \
        folder). A case without a prediction, or whose files cannot be read or are on different grids, is \
        reported as failed; the others are evaluated.

        The labels measured are --labels, else those of --label-table, else every non-zero label in either \
        file of the case; list them to have a label that is absent from both files of a case reported as \
        such (and counted in the summary) rather than left out.

        Per label, in world millimetres on the reference grid (anisotropic and oblique grids alike):
          dice, iou, precision, sensitivity, specificity        from voxel counts
          volumes (mm³), volume difference (prediction − reference), relative volume difference, volume
          similarity 1 − |Vp − Vr| / (Vp + Vr)
          hausdorff_mm and hausdorff95_mm (--percentile)        largest of the two directed values
          assd_mm                                               mean of both directions' distances
          surface_dice_1mm (--tolerance)                        share of both surfaces within the tolerance
        Surface distances join the centres of surface voxels (voxels of the label with a face neighbour \
        outside it), from exact Euclidean distance transforms: MONAI's definitions, checked against MONAI. \
        When a label is in neither file: Dice, IoU, surface Dice 1 and distances 0 (presence "neither"); \
        in one file only: Dice, IoU, surface Dice 0 and every distance the grid's longest diagonal \
        (presence "prediction-only" or "reference-only"). A ratio whose denominator is zero (the precision \
        of an empty prediction, the sensitivity of an empty reference) is left empty: undefined, not 0.

        Output: a table on standard output (--format text), or metrics.csv as CSV (--format csv), or \
        everything as JSON (--format json). With --output DIR, the folder gets metrics.csv (one row per \
        case and label), metrics-summary.csv (per label and metric over cases: count, undefined, mean, std, \
        min, 5th, 25th, 50th, 75th, 95th percentile, max; label "all" pools every label) and metrics.json, \
        each written atomically; existing files are replaced only with --force.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The predicted label map (NIfTI or DICOM SEG), or a folder of them.")
    var prediction: String

    @Argument(help: "The reference label map, or a folder of them.")
    var reference: String

    @Option(name: .long, parsing: .upToNextOption, help: "Label values to measure (default: the label table's, else every non-zero label in either file of a case).")
    var labels: [Int] = []

    @Option(name: .long, help: "A label table (JSON): its labels are measured (unless --labels) and its names go into the output.")
    var labelTable: String?

    @Option(name: .long, help: "Normalised surface Dice tolerance, mm.")
    var tolerance: Double = 1

    @Option(name: .long, help: "The Hausdorff distance percentile reported beside the maximum.")
    var percentile: Double = 95

    @Flag(name: .long, help: "Leave out the surface metrics (Hausdorff, percentile, ASSD, surface Dice).")
    var noSurface = false

    @Flag(name: .long, help: "Put a prediction on another grid onto the reference grid (nearest neighbour).")
    var resample = false

    @Option(name: .long, help: "In folders: the label file inside each case folder of PREDICTION (e.g. bone.nii.gz).")
    var predictionFile: String?

    @Option(name: .long, help: "text, csv or json.")
    var format: String = "text"

    @Option(name: .shortAndLong, help: "A folder for metrics.csv, metrics-summary.csv and metrics.json (created when missing).")
    var output: String?

    @Flag(name: .long, help: "Replace existing metrics files in --output.")
    var force = false

    func validate() throws {
        guard ["text", "csv", "json"].contains(format) else { throw ValidationError("--format must be text, csv or json") }
        guard tolerance >= 0 && tolerance.isFinite else { throw ValidationError("--tolerance must be 0 mm or more") }
        guard (0...100).contains(percentile) else { throw ValidationError("--percentile must be within 0…100") }
        if let bad = labels.first(where: { !(1...65535).contains($0) }) { throw ValidationError("--labels: \(bad) is not a label (1…65535)") }
    }

    func run() throws {
        do {
            let table = try labelTable.map { try LabelTable.read($0) }
            // The labels: --labels, else the label table's, else those present in either file of each case.
            let chosen = labels.isEmpty ? table.map { $0.labels.map(\.value).sorted() } : labels
            let options = SegmentationEvaluationOptions(labels: chosen, tolerance: tolerance,
                                                        percentile: percentile, surfaceMetrics: !noSurface)
            let (cases, unmatched) = try EvaluationInputs.pair(prediction: prediction, reference: reference, predictionFile: predictionFile)
            let outputs = output.map { dir in [EvaluationTable.casesFile, EvaluationTable.summaryFile, EvaluationTable.jsonFile].map { "\(dir)/\($0)" } }
            if let outputs {
                try OutputGuard.check(outputs, name: outputs[0], inputs: cases.flatMap { [$0.reference] + ($0.prediction.map { [$0] } ?? []) }, force: force)
            }
            for path in unmatched { printError("voxelflow: warning: \(path): no reference of that case name; not evaluated") }
            let single = !isFolder(reference)
            var rows: [[String]] = []
            var caseJSON: [JSON] = []
            var failures: [(String, String)] = []
            for c in cases {
                do {
                    guard let predictionPath = c.prediction else {
                        throw EvaluationInputError("no prediction for this case in \(prediction)")
                    }
                    var (predicted, predictedTable, truth, truthTable) = try EvaluationInputs.readPair(prediction: predictionPath, reference: c.reference, table: table)
                    if resample && predicted.geometry != truth.geometry {
                        predicted = try LabelMap(ResampleToGrid(target: truth.geometry, interpolation: .nearest).apply(predicted.volume))
                    }
                    let evaluation = try SegmentationEvaluator.evaluate(prediction: predicted, reference: truth, options: options)
                    var names: [Int: String] = [:]
                    for t in [truthTable, predictedTable, table] { for l in t?.labels ?? [] { names[l.value] = l.name } }
                    rows += EvaluationTable.rows(caseID: c.id, evaluation, names: names)
                    caseJSON.append(.object([("case", .string(c.id))] + objectMembers(EvaluationTable.json(evaluation, names: names, prediction: predictionPath, reference: c.reference))))
                } catch {
                    let reason = error is MetricsError && !resample ? "\(error) (or use --resample)" : "\(error)"
                    if single { throw error is MetricsError ? EvaluationInputError(reason) : error }
                    failures.append((c.id, reason))
                    printError("voxelflow: case \(c.id) failed: \(reason)")
                }
            }
            let header = EvaluationTable.header(options)
            let metrics = EvaluationTable.metricColumns(options)
            let summary = EvaluationTable.summaryRows(header: header, rows: rows, metrics: metrics)
            let json = JSON.object([
                ("tolerance_mm", .number(tolerance)), ("hausdorff_percentile", .number(percentile)), ("surface_metrics", .bool(!noSurface)),
                ("cases", .array(caseJSON)),
                ("failed", .array(failures.map { .object([("case", .string($0.0)), ("reason", .string($0.1))]) })),
                ("summary", .array(summary.map { row in .object(zip(EvaluationTable.summaryHeader, row).map { k, v in
                    (k, ["label", "name", "metric"].contains(k) ? .string(v) : (Double(v).map { .number($0) } ?? .null)) }) })),
            ])
            if let dir = output {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try AtomicFile.write(Array(EvaluationTable.csv(header: header, rows: rows).utf8), to: "\(dir)/\(EvaluationTable.casesFile)")
                try AtomicFile.write(Array(EvaluationTable.csv(header: EvaluationTable.summaryHeader, rows: summary).utf8), to: "\(dir)/\(EvaluationTable.summaryFile)")
                try AtomicFile.write(Array((json.serialized(pretty: true) + "\n").utf8), to: "\(dir)/\(EvaluationTable.jsonFile)")
            }
            switch format {
            case "csv": print(EvaluationTable.csv(header: header, rows: rows), terminator: "")
            case "json": print(json.serialized(pretty: true))
            default: print(EvaluationText.render(header: header, rows: rows, summary: summary, cases: cases.count - failures.count, options: options))
            }
            if !failures.isEmpty { throw ExitCode(ExitCodes.casesFailed) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw ExitCodes.fail(error)
        }
    }

    private func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    private func objectMembers(_ json: JSON) -> [(String, JSON)] {
        if case .object(let members) = json { return members }
        return []
    }
}

/// The plain-text table `evaluate` prints: per case and label the main metrics, then the mean ± std over cases.
enum EvaluationText {
    static func render(header: [String], rows: [[String]], summary: [[String]], cases: Int, options: SegmentationEvaluationOptions) -> String {
        let hd = "hausdorff\(JSON.format(options.percentile))_mm", nsd = "surface_dice_\(JSON.format(options.tolerance))mm"
        let shown: [(String, String)] = [("dice", "Dice"), ("iou", "IoU"), ("sensitivity", "Sens"), ("precision", "Prec")]
            + (options.surfaceMetrics ? [(hd, "HD\(JSON.format(options.percentile)) mm"), ("assd_mm", "ASSD mm"), (nsd, "NSD \(JSON.format(options.tolerance)) mm")] : [])
            + [("reference_volume_mm3", "Vref mL"), ("predicted_volume_mm3", "Vpred mL")]
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        func number(_ text: String, _ key: String) -> String {
            guard let v = Double(text) else { return "–" }
            if key.hasSuffix("_mm3") { return String(format: "%.2f", v / 1000) }
            return String(format: key.hasSuffix("_mm") ? "%.2f" : "%.4f", v)
        }
        var lines: [String] = []
        let titles = ["case", "label", "name", "presence"] + shown.map(\.1)
        var table: [[String]] = [titles]
        for row in rows {
            var line = [row[0], row[1], row[2].isEmpty ? "–" : row[2], row[3]]
            for (key, _) in shown { line.append(column(key).map { number(row[$0], key) } ?? "–") }
            table.append(line)
        }
        lines += align(table)
        let means = summary.filter { $0[2] == "dice" || $0[2] == hd || $0[2] == nsd }
        if cases > 1 && !means.isEmpty {
            lines.append("")
            lines.append("over \(cases) cases (mean ± std; metrics-summary.csv has the percentiles):")
            var t: [[String]] = [["label", "name", "metric", "n", "mean", "std"]]
            for r in means { t.append([r[0], r[1].isEmpty ? "–" : r[1], r[2], r[3], number(r[5], r[2]), number(r[6], r[2])]) }
            lines += align(t)
        }
        return lines.joined(separator: "\n")
    }

    /// Columns padded to a common width: the first `leftColumns` and non-numbers left-aligned, numbers right-aligned.
    static func align(_ table: [[String]], leftColumns: Int = 4) -> [String] {
        guard let width = table.first?.count else { return [] }
        let widths = (0..<width).map { c in table.map { $0[c].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { c, text in
                c < leftColumns || Double(text) == nil ? text.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - text.count) + text
            }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
    }
}
