import Foundation
import VoxelIO
import VoxelSupport

/// The batch pages of a run whose pipeline writes HTML reports: `index.html` (every case with its thumbnail
/// and a link to its report; failed cases with their reason) and `summary.csv` (one row per case and
/// structure, gathered from each case's structures table). Built from every manifest in the output folder,
/// so that shards and resumed runs give one index.
enum BatchIndex {
    /// File names in the output folder.
    static let page = "index.html", table = "summary.csv"

    /// The names a `write-html-report` stage gives its report, thumbnail and table for `caseID`.
    struct Names {
        var html: String, thumbnail: String, table: String
    }

    static func names(in spec: PipelineSpec, caseID: String) -> Names? {
        guard let stage = spec.stages.first(where: { $0.type == "write-html-report" }) else { return nil }
        func name(_ key: String, _ fallback: String) -> String {
            (stage.parameters.string(key) ?? fallback).replacingOccurrences(of: "{case}", with: caseID).replacingOccurrences(of: "{id}", with: stage.id)
        }
        return Names(html: name("path", "report.html"), thumbnail: name("thumbnail", "thumbnail.png"), table: name("table", "structures.csv"))
    }

    /// Writes index.html and summary.csv into `output` when `spec` has a `write-html-report` stage.
    static func write(output: String, spec: PipelineSpec) throws {
        guard spec.stages.contains(where: { $0.type == "write-html-report" }) else { return }
        let fm = FileManager.default
        let manifests = ((try? fm.contentsOfDirectory(atPath: output)) ?? []).filter { $0 == "manifest.jsonl" || ($0.hasPrefix("manifest-shard-") && $0.hasSuffix(".jsonl")) }.sorted()
        // The last line of each case wins (a resumed run appends).
        var latest: [String: JSONNode] = [:]
        for m in manifests {
            for entry in Manifest.readEntries("\(output)/\(m)") {
                if let node = try? JSONParser.parse(entry.line) { latest[entry.caseID] = node }
            }
        }
        var rows: [String] = []
        var csv = ["case,value,name,voxels,volume_ml,mean_intensity,touches_border"]
        var failed = 0
        for id in latest.keys.sorted() {
            guard let node = latest[id], let names = names(in: spec, caseID: id) else { continue }
            let folder = "cases/\(id)"
            if node.member("status")?.value.string == "ok" {
                let hasPage = fm.fileExists(atPath: "\(output)/\(folder)/\(names.html)")
                let hasThumb = fm.fileExists(atPath: "\(output)/\(folder)/\(names.thumbnail)")
                var structures = 0
                if let data = fm.contents(atPath: "\(output)/\(folder)/\(names.table)") {
                    for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() where !line.isEmpty {
                        csv.append("\(WriteHTMLReportStage.csvField(id)),\(line)")
                        structures += 1
                    }
                }
                let link = hasPage ? "<a href=\"\(HTMLReport.escape(percentEncoded("\(folder)/\(names.html)")))\">\(HTMLReport.escape(id))</a>" : HTMLReport.escape(id)
                let thumb = hasThumb ? "<img src=\"\(HTMLReport.escape(percentEncoded("\(folder)/\(names.thumbnail)")))\" alt=\"\(HTMLReport.escape(id)) thumbnail\" height=\"96\">" : ""
                let warnings: Int
                if case .array(let w)? = node.member("warnings")?.value.value { warnings = w.count } else { warnings = 0 }
                rows.append("<tr><td>\(thumb)</td><td>\(link)</td><td>ok</td><td class=\"n\">\(structures)</td><td>\(warnings > 0 ? "\(warnings) warning\(warnings == 1 ? "" : "s")" : "")</td></tr>")
            } else {
                failed += 1
                let error = node.member("error")?.value
                let stage = error?.member("stage")?.value.string ?? "?", message = error?.member("message")?.value.string ?? "no reason recorded"
                rows.append("<tr><td></td><td>\(HTMLReport.escape(id))</td><td class=\"failed\">failed</td><td></td><td class=\"failed\">\(HTMLReport.escape(stage)): \(HTMLReport.escape(message))</td></tr>")
            }
        }
        let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(HTMLReport.escape(spec.name)) · VoxelFlow batch</title><style>\(HTMLReport.style)</style></head><body>
        <h1>\(HTMLReport.escape(spec.name))</h1>
        <p class="meta">\(latest.count) case\(latest.count == 1 ? "" : "s"), \(failed) failed · volumes per case and structure in <a href="\(table)">\(table)</a></p>
        <table><thead><tr><th></th><th>Case</th><th>Status</th><th>Structures</th><th>Notes</th></tr></thead><tbody>
        \(rows.joined(separator: "\n"))
        </tbody></table></body></html>

        """
        try AtomicFile.write(Array(html.utf8), to: "\(output)/\(page)")
        try AtomicFile.write(Array((csv.joined(separator: "\n") + "\n").utf8), to: "\(output)/\(table)")
    }

    /// A relative URL for a path (each segment percent-encoded).
    static func percentEncoded(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? String($0)
        }.joined(separator: "/")
    }
}
