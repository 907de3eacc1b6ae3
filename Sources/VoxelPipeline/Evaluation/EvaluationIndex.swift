import Foundation
import VoxelIO
import VoxelMetrics
import VoxelSupport

/// The run-level tables of a pipeline with an `evaluate` stage: `metrics.csv` (every succeeded case's rows, read
/// from the case folders), `metrics-summary.csv` (per label and metric over cases) and `metrics.html` (the same as a
/// page: per label the mean ± std, median and range of the main metrics, then every case). Built from every manifest
/// in the output folder, so that shards and resumed runs give one table; written atomically.
enum EvaluationIndex {
    static func write(output: String, spec: PipelineSpec) throws {
        guard let stage = spec.stages.first(where: { $0.type == EvaluateStage.definition.type }) else { return }
        let fm = FileManager.default
        let manifests = ((try? fm.contentsOfDirectory(atPath: output)) ?? [])
            .filter { $0 == "manifest.jsonl" || ($0.hasPrefix("manifest-shard-") && $0.hasSuffix(".jsonl")) }.sorted()
        var latest: [String: Bool] = [:]
        for m in manifests {
            for entry in Manifest.readEntries("\(output)/\(m)") {
                let ok = (try? JSONParser.parse(entry.line))?.member("status")?.value.string == "ok"
                latest[entry.caseID] = ok
            }
        }
        let template = stage.parameters.string("path") ?? "metrics.csv"
        var header: [String]?
        var rows: [[String]] = []
        for id in latest.keys.sorted() where latest[id] == true {
            let name = template.replacingOccurrences(of: "{case}", with: id).replacingOccurrences(of: "{id}", with: stage.id)
            guard let data = fm.contents(atPath: "\(output)/cases/\(id)/\(name)") else { continue }
            let table = EvaluationTable.parse(String(decoding: data, as: UTF8.self))
            if header == nil { header = table.header }
            guard table.header == header else { continue }
            rows += table.rows
        }
        guard let header else { return }
        let metrics = header.filter { !EvaluationTable.identityColumns.contains($0) && !$0.hasSuffix("_voxels")
            && !$0.hasPrefix("true_") && !$0.hasPrefix("false_") }
        try AtomicFile.write(Array(EvaluationTable.csv(header: header, rows: rows).utf8), to: "\(output)/\(EvaluationTable.casesFile)")
        let summary = EvaluationTable.summaryRows(header: header, rows: rows, metrics: metrics)
        try AtomicFile.write(Array(EvaluationTable.csv(header: EvaluationTable.summaryHeader, rows: summary).utf8),
                             to: "\(output)/\(EvaluationTable.summaryFile)")
        let failed = latest.filter { !$0.value }.keys.sorted()
        try AtomicFile.write(Array(page(name: spec.name, header: header, rows: rows, summary: summary, failed: failed).utf8),
                             to: "\(output)/\(pageFile)")
    }

    static let pageFile = "metrics.html"

    /// The run's evaluation as a self-contained HTML page.
    static func page(name: String, header: [String], rows: [[String]], summary: [[String]], failed: [String]) -> String {
        let esc = HTMLReport.escape
        let main = header.filter { ["dice", "iou", "sensitivity", "precision"].contains($0) || $0.hasPrefix("hausdorff") || $0 == "assd_mm" || $0.hasPrefix("surface_dice") }
        func number(_ text: String) -> String { Double(text).map { String(format: abs($0) >= 100 ? "%.1f" : "%.4g", $0) } ?? (text.isEmpty ? "–" : text) }
        var html = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(esc(name)) — evaluation</title>
        <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td.t,th.t{text-align:left}</style>
        </head><body><h1>\(esc(name)) — evaluation</h1>
        <p>\(Set(rows.map { $0[0] }).count) case(s) measured\(failed.isEmpty ? "" : ", \(failed.count) failed (\(failed.map(esc).joined(separator: ", ")))"). Distances in mm; empty cells are undefined values (see the presence column). Tables: metrics.csv, metrics-summary.csv.</p>
        <h2>Per label, over cases</h2><table><tr><th class="t">label</th><th class="t">name</th><th class="t">metric</th><th>n</th><th>mean</th><th>std</th><th>median</th><th>min</th><th>max</th></tr>
        """
        for r in summary where main.contains(r[2]) {
            html += "<tr><td class=\"t\">\(esc(r[0]))</td><td class=\"t\">\(esc(r[1]))</td><td class=\"t\">\(esc(r[2]))</td><td>\(r[3])</td>"
                + [r[5], r[6], r[10], r[7], r[13]].map { "<td>\(number($0))</td>" }.joined() + "</tr>"
        }
        html += "</table><h2>Cases</h2><table><tr>" + (["case", "label", "name", "presence"] + main).map { "<th class=\"t\">\(esc($0))</th>" }.joined() + "</tr>"
        let columns = (["case", "label", "name", "presence"] + main).compactMap { header.firstIndex(of: $0) }
        for row in rows {
            html += "<tr>" + columns.enumerated().map { n, c in n < 4 ? "<td class=\"t\">\(esc(row[c]))</td>" : "<td>\(number(row[c]))</td>" }.joined() + "</tr>"
        }
        return html + "</table></body></html>\n"
    }
}
