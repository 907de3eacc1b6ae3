import VoxelCore
import VoxelIO
import Foundation
import VoxelSupport

/// The provenance file of a run or shard (`OUT/run.json`, `OUT/run-shard-i-of-n.json`): pipeline and its hash,
/// tool version, seed, archive, shard, status and case counts of the latest invocation, and `invocations`,
/// the history of every start and resume in this folder (command line, host, times, status, counts). Written
/// when an invocation starts and again when it ends.
struct RunRecord {
    var members: [(String, JSON)]
    private var invocation: [(String, JSON)]
    private let history: [JSON]

    init(spec: PipelineSpec, options: RunOptions, archive: String, started: Date, total: Int, history: [JSON]) {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.history = history
        invocation = [
            ("commandLine", .array(options.commandLine.map { .string($0) })),
            ("tool", .string("voxelflow \(options.toolVersion)")),
            ("host", .string(hostName)),
            ("cores", .int(ProcessInfo.processInfo.activeProcessorCount)),
            ("jobs", .int(options.jobs)),
            ("resumed", .bool(options.resume)),
            ("forced", .bool(options.force)),
            ("started", .string(RunRecord.timestamp(started))),
            ("finished", .null),
            ("status", .string("running")),
        ]
        members = [
            ("format", .string("voxelflow-run")),
            ("formatVersion", .int(2)),
            ("tool", .string("voxelflow \(options.toolVersion)")),
            ("pipeline", .object([
                ("name", .string(spec.name)),
                ("sha256", .string(spec.sha256)),
                ("path", options.pipelinePath.map { .string($0) } ?? .null),
                ("formatVersion", .int(PipelineSpec.formatVersion)),
            ])),
            ("seed", .int(Int(spec.seed))),
            ("archive", .string(archive)),
            ("shard", options.shard.map { .string("\($0.index)/\($0.count)") } ?? .null),
            ("jobs", .int(options.jobs)),
            ("resumed", .bool(options.resume)),
            ("commandLine", .array(options.commandLine.map { .string($0) })),
            ("host", .string(hostName)),
            ("cores", .int(ProcessInfo.processInfo.activeProcessorCount)),
            ("started", .string(RunRecord.timestamp(started))),
            ("finished", .null),
            ("status", .string("running")),
            ("cases", .object([("total", .int(total))])),
        ]
    }

    /// Records the end of this invocation: "succeeded", "finished with failures" or "interrupted".
    mutating func finish(_ date: Date, summary: RunSummary) {
        let status = summary.interrupted ? "interrupted" : (summary.failed == 0 ? "succeeded" : "finished with failures")
        let counts = JSON.object([
            ("total", .int(summary.total)), ("succeeded", .int(summary.succeeded)),
            ("failed", .int(summary.failed)), ("skipped", .int(summary.skipped)), ("notStarted", .int(summary.notStarted)),
        ])
        for (key, value) in [("finished", JSON.string(RunRecord.timestamp(date))), ("status", .string(status)), ("cases", counts),
                             ("seconds", .number(Manifest.round(summary.seconds)))] {
            set(&members, key, value)
            set(&invocation, key, value)
        }
    }

    /// Records that this invocation was abandoned (a second interrupt) before its cases finished.
    mutating func abandon(_ date: Date) {
        for (key, value) in [("finished", JSON.string(RunRecord.timestamp(date))), ("status", .string("interrupted"))] {
            set(&members, key, value)
            set(&invocation, key, value)
        }
    }

    private func set(_ list: inout [(String, JSON)], _ key: String, _ value: JSON) {
        if let n = list.firstIndex(where: { $0.0 == key }) { list[n].1 = value } else { list.append((key, value)) }
    }

    /// Writes the file atomically.
    /// - Throws: `RunError.cannotRecord`.
    func write(to path: String) throws {
        let all = JSON.object(members + [("invocations", .array(history + [.object(invocation)]))])
        do {
            try AtomicFile.write(Array((all.serialized() + "\n").utf8), to: path)
        } catch {
            throw RunError.cannotRecord(path: path, reason: "\(error)")
        }
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
