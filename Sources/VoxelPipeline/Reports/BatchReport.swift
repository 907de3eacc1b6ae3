import Foundation
import VoxelIO
import VoxelSupport

/// The summary of a whole batch over all its shards (`voxelflow report OUT`), written as `OUT/batch.json`:
/// case counts by state, each shard's state and host, the failures with their stage and message, warnings
/// by kind, seconds per stage over the completed cases (count, total, median, 95th percentile, maximum),
/// and the wall time from the first start to the last end with the throughput it implies. With the
/// pipeline at hand it also rebuilds the batch pages (`index.html`, `summary.csv`) and the evaluation
/// tables over every shard's manifest.
public struct BatchReport: Sendable {
    /// The file name in the output folder.
    public static let fileName = "batch.json"

    /// Seconds of one stage over the completed cases.
    public struct StageTiming: Sendable {
        public var stage: String
        public var count: Int
        public var total: Double
        public var median: Double
        public var p95: Double
        public var max: Double
    }

    public var status: BatchStatus
    public var stages: [StageTiming]
    public var warnings: [(kind: String, count: Int, cases: Int)]
    /// Seconds from the earliest recorded start to the latest recorded end (nil while nothing ended).
    public var wallSeconds: Double?
    /// Sum of the seconds of the done and failed cases.
    public var caseSeconds: Double

    /// Builds the report from the folder's plan, provenance files and manifests.
    /// - Throws: `BatchStatusError` as `BatchStatus.read`.
    public static func build(output: String) throws -> BatchReport {
        let status = try BatchStatus.read(output: output)
        let folder = OutputFolderState.inspect(output)
        var latest: [String: JSONNode] = [:]
        for run in folder.runs {
            for entry in Manifest.readEntries(run.files.manifest) {
                if let node = try? JSONParser.parse(entry.line) { latest[entry.caseID] = node }
            }
        }
        var perStage: [String: [Double]] = [:]
        var order: [String] = []
        var warningCounts: [String: (Int, Set<String>)] = [:]
        for c in status.cases {
            guard let node = latest[c.id] else { continue }
            if c.state == .done, case .array(let timings)? = node.member("timings")?.value.value {
                for t in timings {
                    guard let stage = t.member("stage")?.value.string, case .number(let s)? = t.member("seconds")?.value.value else { continue }
                    if perStage[stage] == nil { order.append(stage) }
                    perStage[stage, default: []].append(s)
                }
            }
            if case .array(let items)? = node.member("warnings")?.value.value {
                for w in items.compactMap(\.string) {
                    let k = WarningSummary.kind(of: w)
                    var e = warningCounts[k] ?? (0, [])
                    e.0 += 1
                    e.1.insert(c.id)
                    warningCounts[k] = e
                }
            }
        }
        let stages = order.map { name -> StageTiming in
            let v = (perStage[name] ?? []).sorted()
            return StageTiming(stage: name, count: v.count, total: v.reduce(0, +), median: quantile(v, 0.5), p95: quantile(v, 0.95), max: v.last ?? 0)
        }
        let warnings = warningCounts.map { (kind: $0.key, count: $0.value.0, cases: $0.value.1.count) }
            .sorted { ($0.count, $1.kind) > ($1.count, $0.kind) }
        // Wall time over every invocation of every shard.
        let parse = ISO8601DateFormatter()
        var first: Date?, last: Date?
        for run in folder.runs {
            for inv in run.invocations {
                guard case .object(let m) = inv else { continue }
                if let s = m.first(where: { $0.0 == "started" })?.1.stringValue, let d = parse.date(from: s) { first = min(first ?? d, d) }
                if let s = m.first(where: { $0.0 == "finished" })?.1.stringValue, let d = parse.date(from: s) { last = max(last ?? d, d) }
            }
        }
        let wall = first.flatMap { f in last.map { $0.timeIntervalSince(f) } }
        let caseSeconds = status.cases.reduce(0) { $0 + ($1.seconds ?? 0) }
        return BatchReport(status: status, stages: stages, warnings: warnings, wallSeconds: wall, caseSeconds: caseSeconds)
    }

    /// The value at fraction `q` of sorted `values` (linear interpolation, as numpy's default).
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let position = q * Double(values.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(values.count - 1, lo + 1)
        return values[lo] + (values[hi] - values[lo]) * (position - Double(lo))
    }

    public var json: JSON {
        let s = status
        let done = s.count(.done)
        var members: [(String, JSON)] = [
            ("format", .string("voxelflow-batch")),
            ("formatVersion", .int(1)),
            ("finished", .bool(s.isFinished)),
            ("cases", .object(BatchStatus.CaseState.allCases.map { ($0.rawValue, .int(s.count($0))) } + [("total", .int(s.cases.count))])),
            ("shards", .array(s.shards.map { sh in
                .object([("shard", .int(sh.index)), ("state", .string(sh.state.rawValue)), ("host", sh.host.map { .string($0) } ?? .null),
                         ("done", .int(sh.counts[.done] ?? 0)), ("failed", .int(sh.counts[.failed] ?? 0))])
            })),
            ("failures", .array(s.cases.filter { $0.state == .failed }.map {
                .object([("case", .string($0.id)), ("shard", .int($0.shard)), ("error", .string($0.error ?? ""))])
            })),
            ("warnings", .array(warnings.map { .object([("kind", .string($0.kind)), ("count", .int($0.count)), ("cases", .int($0.cases))]) })),
            ("stages", .array(stages.map { t in
                .object([("stage", .string(t.stage)), ("cases", .int(t.count)), ("totalSeconds", .number(Manifest.round(t.total))),
                         ("medianSeconds", .number(Manifest.round(t.median))), ("p95Seconds", .number(Manifest.round(t.p95))),
                         ("maxSeconds", .number(Manifest.round(t.max)))])
            })),
            ("caseSeconds", .number(Manifest.round(caseSeconds))),
        ]
        if let wall = wallSeconds {
            members.append(("wallSeconds", .number(Manifest.round(wall))))
            if wall > 0 { members.append(("casesPerHour", .number(Manifest.round(Double(done) / wall * 3600)))) }
        }
        return .object(members)
    }

    /// Writes `batch.json`, and with `spec` the batch pages and evaluation tables, into the output folder.
    /// - Throws: `RunError.cannotRecord`.
    public func write(spec: PipelineSpec?) throws {
        let path = "\(status.output)/\(BatchReport.fileName)"
        do {
            try AtomicFile.write(Array((json.serialized() + "\n").utf8), to: path)
        } catch {
            throw RunError.cannotRecord(path: path, reason: "\(error)")
        }
        guard let spec else { return }
        do {
            try BatchIndex.write(output: status.output, spec: spec)
            try EvaluationIndex.write(output: status.output, spec: spec)
        } catch {
            throw RunError.cannotRecord(path: status.output, reason: "\(error)")
        }
    }

    /// The pipeline file the folder's runs recorded (absolute), if any recorded one.
    public static func recordedPipeline(output: String) -> (path: String, sha256: String?)? {
        for run in OutputFolderState.inspect(output).runs {
            guard let data = FileManager.default.contents(atPath: run.files.provenance),
                  let node = try? JSONParser.parse(bytes: [UInt8](data)),
                  let path = node.member("pipeline")?.value.member("path")?.value.string else { continue }
            return (path, run.pipelineSHA)
        }
        return nil
    }
}
