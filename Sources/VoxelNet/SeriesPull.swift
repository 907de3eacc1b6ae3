import Foundation
import VoxelIO
import VoxelSupport

/// How `SeriesPull` retrieves.
public struct PullOptions: Sendable {
    /// Series retrieved at the same time.
    public var jobs = 2
    /// Attempts per series after the first, for failures that may pass (broken connections, 5xx answers).
    public var retries = 3
    /// Seconds before the first retry; doubled for each next one.
    public var backoff = 1.0
    /// Skip series an earlier pull into the same folder completed.
    public var resume = false
    /// Called before each series is retrieved (not for series skipped); may block, e.g. until the cache
    /// has room again.
    public var beforeRetrieve: (@Sendable (RemoteSeries) -> Void)?

    public init() {}
}

/// The outcome of one series: a line of `pull.jsonl`. Patient identifiers are never recorded.
public struct PullRecord: Sendable {
    public enum Status: String, Sendable { case ok, failed, skipped }

    public var series: RemoteSeries
    public var status: Status
    public var instances = 0
    public var bytes: Int64 = 0
    public var seconds = 0.0
    public var attempts = 0
    public var error: String?
    /// A problem that did not stop the series (fewer instances than the search announced).
    public var warning: String?
    /// The folder the series was written to, relative to the output folder.
    public var folder: String

    public var json: JSON {
        var m: [(String, JSON)] = [
            ("study", .string(series.studyUID)),
            ("series", .string(series.seriesUID)),
            ("modality", series.modality.map { .string($0) } ?? .null),
            ("description", series.description.map { .string($0) } ?? .null),
            ("status", .string(status.rawValue)),
            ("folder", .string(folder)),
            ("expected", series.instances.map { .int($0) } ?? .null),
            ("instances", .int(instances)),
            ("bytes", .int(Int(bytes))),
            ("seconds", .number((seconds * 1000).rounded() / 1000)),
            ("attempts", .int(attempts)),
        ]
        if let error { m.append(("error", .string(error))) }
        if let warning { m.append(("warning", .string(warning))) }
        return .object(m)
    }
}

/// Why a pull cannot start.
public enum PullError: Error, CustomStringConvertible, Sendable {
    case outputNotAPull(path: String, entries: [String])
    case cannotPrepare(path: String, reason: String)
    /// The source answered the retrieval with no instance.
    case emptySeries(source: String, series: String)

    public var description: String {
        switch self {
        case .outputNotAPull(let path, let entries):
            let shown = entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", …" : "")
            return "\(path): the folder is not empty (\(shown)) and holds no earlier pull (pull.jsonl); choose a new or empty folder (nothing was written)"
        case .cannotPrepare(let path, let reason):
            return "\(path): cannot prepare the folder: \(reason)"
        case .emptySeries(let source, let series):
            return "\(source): the retrieval of series \(series) gave no instance"
        }
    }
}

/// Retrieves series from a DICOMweb server into a folder that `voxelflow run` reads as an archive:
/// `OUT/<StudyInstanceUID>/<SeriesInstanceUID>/00001.dcm …`, each series built in `OUT/.partial/` and renamed
/// into place when complete (a series that fails leaves nothing), and `OUT/pull.jsonl`, one line per series
/// (UIDs, modality, description, instances, bytes, seconds, attempts, error; no patient identifier).
/// Failures that may pass are retried with doubling waits; one series failing never stops the others.
public enum SeriesPull {
    /// The record file's name.
    public static let recordName = "pull.jsonl"

    /// Retrieves `series` into `output`.
    /// - Parameter progress: called after each series (from worker threads, one call at a time).
    /// - Throws: `PullError` when the folder cannot be used; failures of single series are in the records.
    public static func run(_ client: any SeriesSource, series: [RemoteSeries], output: String, options: PullOptions,
                           progress: @escaping @Sendable (PullRecord) -> Void = { _ in }) throws -> [PullRecord] {
        let fm = FileManager.default
        let recordPath = "\(output)/\(recordName)"
        let entries = (try? fm.contentsOfDirectory(atPath: output)) ?? []
        if !entries.isEmpty && !entries.contains(recordName) {
            throw PullError.outputNotAPull(path: output, entries: entries.sorted())
        }
        // Series completed by earlier pulls (the last line of a series wins).
        var done: [String: String] = [:]
        if let data = fm.contents(atPath: recordPath) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let node = try? JSONParser.parse(String(line)), let s = node.member("series")?.value.string else { continue }
                if node.member("status")?.value.string == "ok", let folder = node.member("folder")?.value.string {
                    done[s] = folder
                } else if node.member("status")?.value.string == "failed" {
                    done[s] = nil
                }
            }
        }
        let completed = done
        let staging = "\(output)/.partial"
        let log: LineAppender
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            log = try LineAppender(path: recordPath)
        } catch {
            throw PullError.cannotPrepare(path: output, reason: "\(error)")
        }
        defer { rmdir(staging) }

        let results = ResultList(count: series.count)
        let next = NextIndex()
        let workers = max(1, min(options.jobs, series.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let n = next.take(below: series.count) {
                let s = series[n]
                var record: PullRecord
                if options.resume, let folder = completed[s.seriesUID], fm.fileExists(atPath: "\(output)/\(folder)") {
                    record = PullRecord(series: s, status: .skipped, folder: folder)
                } else {
                    options.beforeRetrieve?(s)
                    record = retrieve(client, s, output: output, staging: staging, options: options)
                    try? log.append(record.json.serialized(pretty: false))
                }
                results.set(n, record)
                progress(record)
            }
        }
        return results.all
    }

    /// True for a UID that can name a folder: digits and dots, at most 64 characters, as PS3.5 requires.
    static func isValidUID(_ uid: String) -> Bool {
        !uid.isEmpty && uid.count <= 64 && uid.allSatisfy { $0 == "." || ("0"..."9").contains($0) } && !uid.hasPrefix(".") && !uid.contains("..")
    }

    private static func retrieve(_ client: any SeriesSource, _ s: RemoteSeries, output: String, staging: String, options: PullOptions) -> PullRecord {
        let folder = "\(s.studyUID)/\(s.seriesUID)"
        var record = PullRecord(series: s, status: .failed, folder: folder)
        guard isValidUID(s.studyUID), isValidUID(s.seriesUID) else {
            record.error = "the server gave a UID that is not a DICOM UID (digits and dots); not retrieved"
            return record
        }
        let fm = FileManager.default
        let destination = "\(output)/\(folder)"
        if fm.fileExists(atPath: destination) {
            record.error = "\(destination) already exists and no completed pull recorded it; nothing was replaced"
            return record
        }
        let temporary = "\(staging)/\(s.seriesUID)"
        let start = Date()
        var wait = options.backoff
        for attempt in 0...options.retries {
            record.attempts = attempt + 1
            do {
                if fm.fileExists(atPath: temporary) { try fm.removeItem(atPath: temporary) }
                try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
                let (instances, bytes) = try client.retrieveSeries(s, into: temporary)
                guard instances > 0 else { throw PullError.emptySeries(source: client.name, series: s.seriesUID) }
                try fm.createDirectory(atPath: "\(output)/\(s.studyUID)", withIntermediateDirectories: true)
                try fm.moveItem(atPath: temporary, toPath: destination)
                record.status = .ok
                record.instances = instances
                record.bytes = bytes
                record.error = nil
                if let expected = s.instances, expected != instances {
                    record.warning = "the search announced \(expected) instances, \(instances) arrived"
                }
                break
            } catch {
                try? fm.removeItem(atPath: temporary)
                record.error = "\(error)"
                let retryable = client.isRetryable(error)
                guard retryable, attempt < options.retries else { break }
                Thread.sleep(forTimeInterval: wait)
                wait *= 2
            }
        }
        record.seconds = Date().timeIntervalSince(start)
        return record
    }
}

private final class NextIndex: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

private final class ResultList: @unchecked Sendable {
    private var items: [PullRecord?]
    private let lock = NSLock()

    init(count: Int) { items = Array(repeating: nil, count: count) }

    func set(_ n: Int, _ r: PullRecord) {
        lock.lock()
        items[n] = r
        lock.unlock()
    }

    var all: [PullRecord] {
        lock.lock()
        defer { lock.unlock() }
        return items.compactMap { $0 }
    }
}
