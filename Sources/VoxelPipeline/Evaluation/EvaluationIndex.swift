import Foundation
import VoxelIO
import VoxelMetrics
import VoxelSupport

/// The run-level tables of a pipeline with an `evaluate` stage: `metrics.csv` (every succeeded case's rows, read
/// from the case folders) and `metrics-summary.csv` (per label and metric over cases). Built from every manifest in
/// the output folder, so that shards and resumed runs give one table; written atomically.
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
    }
}
