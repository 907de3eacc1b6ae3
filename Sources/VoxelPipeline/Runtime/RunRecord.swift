import VoxelCore
import Foundation

/// `OUT/run.json`: the provenance of a run (pipeline and its hash, tool version, seed, archive, shard,
/// host, start and end times, case counts), written when the run starts and again when it ends.
struct RunRecord {
    var members: [(String, JSON)]

    init(spec: PipelineSpec, options: RunOptions, started: Date, total: Int) {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        members = [
            ("format", .string("voxelflow-run")),
            ("formatVersion", .int(1)),
            ("tool", .string("voxelflow \(options.toolVersion)")),
            ("pipeline", .object([
                ("name", .string(spec.name)),
                ("sha256", .string(spec.sha256)),
                ("formatVersion", .int(PipelineSpec.formatVersion)),
            ])),
            ("seed", .int(Int(spec.seed))),
            ("archive", .string(options.archive)),
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

    mutating func finish(_ date: Date, summary: RunSummary) {
        set("finished", .string(RunRecord.timestamp(date)))
        set("status", .string(summary.failed == 0 ? "succeeded" : "finished with failures"))
        set("cases", .object([
            ("total", .int(summary.total)), ("succeeded", .int(summary.succeeded)),
            ("failed", .int(summary.failed)), ("skipped", .int(summary.skipped)),
        ]))
        set("seconds", .number(Manifest.round(summary.seconds)))
    }

    private mutating func set(_ key: String, _ value: JSON) {
        if let n = members.firstIndex(where: { $0.0 == key }) { members[n].1 = value } else { members.append((key, value)) }
    }

    func write(to path: String) throws {
        try AtomicWrite.write(Array((JSON.object(members).serialized() + "\n").utf8), to: path)
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
