import Foundation
import VoxelIO
import VoxelMetrics
import VoxelSupport

/// What `voxelflow evaluate-classification` reads: predictions (a CSV, or the case reports of a `run` whose pipeline
/// has a `classify` stage) and the reference classes (a CSV or JSON table of case → class).
public enum ClassificationInputs {
    /// A prediction without its truth: case, predicted class, scores by class (possibly none).
    public typealias Prediction = (caseID: String, predicted: String, scores: [String: Double])

    /// Reads predictions.
    ///
    /// A CSV file has a header with `case` and `predicted` columns and, optionally, one `score_CLASS` column per
    /// class. A folder is a `voxelflow run` output folder: each `cases/CASE/report.json` gives the section of the
    /// `classify` stage `stage` (default: the first section with `predicted` and `scores`).
    /// - Throws: `EvaluationInputError` naming the file and the problem.
    public static func predictions(_ path: String, stage: String? = nil) throws -> [Prediction] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw EvaluationInputError("\(path): no such file or folder") }
        if isDir.boolValue { return try fromRun(path, stage: stage) }
        let (header, rows) = EvaluationTable.parse(try text(path))
        guard let c = header.firstIndex(of: "case"), let p = header.firstIndex(of: "predicted") else {
            throw EvaluationInputError("\(path): the header needs \"case\" and \"predicted\" columns (and optionally score_CLASS columns), found \(header)")
        }
        let scoreColumns = header.enumerated().filter { $0.element.hasPrefix("score_") }
        return try rows.enumerated().compactMap { n, row in
            if row.allSatisfy(\.isEmpty) { return nil }
            guard row.count == header.count else { throw EvaluationInputError("\(path): line \(n + 2) has \(row.count) fields, the header \(header.count)") }
            var scores: [String: Double] = [:]
            for (column, name) in scoreColumns {
                guard let v = Double(row[column]), v.isFinite else {
                    throw EvaluationInputError("\(path): line \(n + 2): \(name) \"\(row[column])\" is not a number")
                }
                scores[String(name.dropFirst("score_".count))] = v
            }
            return (row[c], row[p], scores)
        }
    }

    /// Reads the reference classes: a CSV whose first two columns are the case and its class (a header line first),
    /// or a JSON object `{"CASE": "CLASS", …}`.
    /// - Throws: `EvaluationInputError` naming the file and the problem.
    public static func truth(_ path: String) throws -> [String: String] {
        let content = try text(path)
        if content.drop(while: { $0.isWhitespace }).first == "{" {
            guard case .object(let members)? = try? JSONParser.parse(content).json else {
                throw EvaluationInputError("\(path): not a JSON object of case → class")
            }
            var out: [String: String] = [:]
            for (k, v) in members {
                guard let s = v.stringValue else { throw EvaluationInputError("\(path): the class of case \(k) is not a string") }
                out[k] = s
            }
            return out
        }
        let (header, rows) = EvaluationTable.parse(content)
        guard header.count >= 2 else { throw EvaluationInputError("\(path): expected a header line \"case,class\" and one line per case") }
        var out: [String: String] = [:]
        for (n, row) in rows.enumerated() where !row.allSatisfy(\.isEmpty) {
            guard row.count >= 2 else { throw EvaluationInputError("\(path): line \(n + 2) has no class") }
            if out[row[0]] != nil { throw EvaluationInputError("\(path): case \(row[0]) is listed twice") }
            out[row[0]] = row[1]
        }
        return out
    }

    private static func text(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvaluationInputError("\(path): cannot be read") }
        return String(decoding: data, as: UTF8.self)
    }

    private static func fromRun(_ folder: String, stage: String?) throws -> [Prediction] {
        let cases = ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/cases")) ?? []).sorted()
        var out: [Prediction] = []
        for id in cases {
            let path = "\(folder)/cases/\(id)/report.json"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard case .object(let results)? = (try? JSONParser.parse(try text(path)))?.json["results"] else {
                throw EvaluationInputError("\(path): no \"results\" section")
            }
            let section = results.first { name, value in
                (stage == nil || name == stage) && value["predicted"]?.stringValue != nil
            }?.1
            guard let section, let predicted = section["predicted"]?.stringValue else {
                throw EvaluationInputError("\(path): no classify section\(stage.map { " named \"\($0)\"" } ?? "") with a predicted class")
            }
            var scores: [String: Double] = [:]
            if case .object(let s)? = section["scores"] { for (k, v) in s { if let d = v.doubleValue { scores[k] = d } } }
            out.append((id, predicted, scores))
        }
        guard !out.isEmpty else { throw EvaluationInputError("\(folder): no case report (cases/*/report.json) in the folder") }
        return out
    }
}
