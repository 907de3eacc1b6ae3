import VoxelMetrics
import VoxelSupport

/// Segmentation metrics as tables: `metrics.csv` (one row per case and label), `metrics-summary.csv` (per label and
/// metric over cases: count, mean, std, percentiles) and their JSON form for reports.
///
/// Empty cells (CSV) and `null` (JSON) are undefined values, never failures: the `presence` column says why (see
/// `LabelPresence`). Column names carry the options: `hausdorff95_mm` for the 95th percentile, `surface_dice_1mm`
/// for a 1 mm tolerance.
public enum EvaluationTable {
    /// File names in a case folder and in a run's output folder.
    public static let casesFile = "metrics.csv", summaryFile = "metrics-summary.csv", jsonFile = "metrics.json"

    /// The identity columns that start every row, before the metrics.
    public static let identityColumns = ["case", "label", "name", "presence"]

    /// The columns of `metrics.csv` for these options.
    public static func header(_ options: SegmentationEvaluationOptions) -> [String] {
        identityColumns + ["reference_voxels", "predicted_voxels", "true_positives", "false_positives", "false_negatives", "true_negatives"]
            + metricColumns(options) + ["reference_surface_voxels", "predicted_surface_voxels"]
    }

    /// The columns `metrics-summary.csv` summarises (ratios, volumes and distances; not the voxel counts).
    public static func metricColumns(_ options: SegmentationEvaluationOptions) -> [String] {
        ["dice", "iou", "precision", "sensitivity", "specificity", "reference_volume_mm3", "predicted_volume_mm3",
         "volume_difference_mm3", "relative_volume_difference", "volume_similarity", "hausdorff_mm",
         "hausdorff\(JSON.format(options.percentile))_mm", "assd_mm", "surface_dice_\(JSON.format(options.tolerance))mm"]
    }

    /// One row per label of `evaluation`; `names` gives label names (empty cell without one).
    public static func rows(caseID: String, _ evaluation: SegmentationEvaluation, names: [Int: String]) -> [[String]] {
        evaluation.labels.map { e in
            func n(_ v: Double?) -> String { v.map(JSON.format) ?? "" }
            return [caseID, String(e.label), names[e.label] ?? "", e.presence.rawValue,
                    String(e.referenceVoxels), String(e.predictedVoxels), String(e.truePositives), String(e.falsePositives),
                    String(e.falseNegatives), String(e.trueNegatives),
                    n(e.dice), n(e.iou), n(e.precision), n(e.sensitivity), n(e.specificity),
                    n(e.referenceVolume), n(e.predictedVolume), n(e.volumeDifference), n(e.relativeVolumeDifference),
                    n(e.volumeSimilarity), n(e.hausdorff), n(e.hausdorffPercentile), n(e.averageSurfaceDistance), n(e.surfaceDice),
                    String(e.referenceSurfaceVoxels), String(e.predictedSurfaceVoxels)]
        }
    }

    /// RFC 4180 CSV text with a header line.
    public static func csv(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(WriteHTMLReportStage.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Per label (and over all labels, label `all`) and per metric column: count, undefined, mean, sample std,
    /// min, 5th/25th/50th/75th/95th percentile (linear interpolation), max — over the rows given.
    public static func summaryRows(header: [String], rows: [[String]], metrics: [String]) -> [[String]] {
        guard let labelColumn = header.firstIndex(of: "label"), let nameColumn = header.firstIndex(of: "name") else { return [] }
        var groups: [(label: String, name: String, rows: [[String]])] = []
        var position: [String: Int] = [:]
        for row in rows where row.count == header.count {
            let label = row[labelColumn]
            if let p = position[label] {
                groups[p].rows.append(row)
            } else {
                position[label] = groups.count
                groups.append((label, row[nameColumn], [row]))
            }
        }
        groups.sort { (Int($0.label) ?? .max) < (Int($1.label) ?? .max) }
        if groups.count > 1 { groups.append(("all", "", rows.filter { $0.count == header.count })) }
        var out: [[String]] = []
        for group in groups {
            for metric in metrics {
                guard let column = header.firstIndex(of: metric) else { continue }
                let s = MetricSummary(group.rows.map { Double($0[column]) })
                func n(_ v: Double?) -> String { v.map(JSON.format) ?? "" }
                out.append([group.label, group.name, metric, String(s.count), String(s.undefined), n(s.mean), n(s.standardDeviation),
                            n(s.minimum), n(s.percentile5), n(s.percentile25), n(s.median), n(s.percentile75), n(s.percentile95), n(s.maximum)])
            }
        }
        return out
    }

    /// The columns of `metrics-summary.csv`.
    public static let summaryHeader = ["label", "name", "metric", "count", "undefined", "mean", "std", "min", "p5", "p25", "median", "p75", "p95", "max"]

    /// The evaluation as a JSON object for reports: options, then one object per label with every metric (`null`
    /// when undefined).
    public static func json(_ evaluation: SegmentationEvaluation, names: [Int: String], prediction: String, reference: String) -> JSON {
        let header = self.header(evaluation.options)
        let rows = self.rows(caseID: "", evaluation, names: names)
        let labels: [JSON] = rows.map { row in
            .object(zip(header, row).dropFirst().map { key, value in
                if ["label"].contains(key) || key.hasSuffix("_voxels") || key.hasPrefix("true_") || key.hasPrefix("false_") {
                    return (key, Int(value).map { .int($0) } ?? .null)
                }
                if ["name", "presence"].contains(key) { return (key, .string(value)) }
                return (key, Double(value).map { .number($0) } ?? .null)
            })
        }
        return .object([
            ("prediction", .string(prediction)), ("reference", .string(reference)),
            ("tolerance_mm", .number(evaluation.options.tolerance)), ("hausdorff_percentile", .number(evaluation.options.percentile)),
            ("surface_metrics", .bool(evaluation.options.surfaceMetrics)), ("worst_distance_mm", .number(evaluation.worstDistance)),
            ("labels", .array(labels)),
        ])
    }

    /// Parses CSV text written by `csv` (quoted fields included) into its header and rows.
    public static func parse(_ text: String) -> (header: [String], rows: [[String]]) {
        var records: [[String]] = []
        var record: [String] = [], fieldText = "", quoted = false, atFieldStart = true
        var chars = Array(text).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { fieldText.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { fieldText.append(c) }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case ",": record.append(fieldText); fieldText = ""; atFieldStart = true
            case "\n", "\r\n":
                record.append(fieldText); fieldText = ""; atFieldStart = true
                records.append(record); record = []
            default: fieldText.append(c); atFieldStart = false
            }
        }
        if !fieldText.isEmpty || !record.isEmpty { record.append(fieldText); records.append(record) }
        guard let header = records.first else { return ([], []) }
        return (header, Array(records.dropFirst()))
    }
}
