import VoxelCore
import VoxelIO
import Foundation
import VoxelSupport

/// The outcome of one case, one line of `manifest.jsonl`.
public struct CaseRecord: Sendable {
    public enum Status: String, Sendable { case ok, failed }

    public var caseID: String
    public var status: Status
    public var inputs: JSON
    /// Files written, relative to the output folder.
    public var outputs: [String]
    /// Seconds per stage, in order (input loading is listed as `load:NAME`).
    public var timings: [(String, Double)]
    public var seconds: Double
    public var warnings: [String]
    /// The stage that failed (or `inputs`) and the error message, for failed cases.
    public var error: (stage: String, message: String)?
    /// Stages that did not run for this case (a `when` that did not hold), with the reason.
    public var skipped: [(stage: String, reason: String)] = []
    /// Members stages added to the line (`CaseContext.manifestEntries`).
    public var extra: [(String, JSON)] = []

    /// The manifest line (compact JSON).
    public var json: JSON {
        var members: [(String, JSON)] = [
            ("case", .string(caseID)),
            ("status", .string(status.rawValue)),
            ("inputs", inputs),
            ("outputs", .array(outputs.map { .string($0) })),
            ("timings", .array(timings.map { .object([("stage", .string($0.0)), ("seconds", .number(Manifest.round($0.1)))]) })),
            ("seconds", .number(Manifest.round(seconds))),
            ("warnings", .array(warnings.map { .string($0) })),
        ]
        if !skipped.isEmpty {
            members.append(("skipped", .array(skipped.map { .object([("stage", .string($0.stage)), ("reason", .string($0.reason))]) })))
        }
        let own = Set(members.map(\.0) + ["skipped", "error"])
        members += extra.filter { !own.contains($0.0) }
        if let error { members.append(("error", .object([("stage", .string(error.stage)), ("message", .string(error.message))]))) }
        return .object(members)
    }
}

/// `OUT/manifest.jsonl`: one JSON line per finished case, appended as cases finish.
///
/// Each line goes out in a single `write` on a file opened for appending, so a killed run leaves at most
/// one incomplete last line, which `--resume` discards.
final class Manifest: @unchecked Sendable {
    let path: String
    private let file: LineAppender

    /// Opens (creating) the manifest for appending.
    init(path: String) throws {
        self.path = path
        file = try LineAppender(path: path)
    }

    func append(_ record: CaseRecord) throws {
        try file.append(record.json.serialized(pretty: false))
    }

    /// Lines of an existing manifest that parse as JSON objects, with their case id and status; an
    /// incomplete or damaged line (a killed run) is skipped.
    static func readEntries(_ path: String) -> [(caseID: String, status: String, line: String)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let node = try? JSONParser.parse(String(line)), let c = node.member("case")?.value.string,
                  let s = node.member("status")?.value.string else { return nil }
            return (c, s, String(line))
        }
    }

    static func round(_ seconds: Double) -> Double { (seconds * 1e6).rounded() / 1e6 }
}
