import Foundation
import VoxelIO
import VoxelSupport

/// The outcome of pushing one file: a line of a push record (`pushed.jsonl`).
public struct PushRecord: Sendable {
    public enum Status: String, Sendable {
        case stored, warning, failed
        /// Recorded as stored at the same server by an earlier push: not sent again.
        case skipped
    }

    public var file: String
    public var sopInstanceUID: String?
    public var seriesInstanceUID: String?
    public var status: Status
    public var reason: String?
    /// The destination it went to: a DICOMweb service root or `dimse://AE@host:port` (never with credentials).
    public var destination: String

    public var json: JSON {
        var m: [(String, JSON)] = [
            ("file", .string(file)),
            ("sopInstanceUID", sopInstanceUID.map { .string($0) } ?? .null),
            ("seriesInstanceUID", seriesInstanceUID.map { .string($0) } ?? .null),
            ("destination", .string(destination)),
            ("status", .string(status.rawValue)),
        ]
        if let reason { m.append(("reason", .string(reason))) }
        return .object(m)
    }
}

/// A push record file: one JSON line per instance sent, appended as answers arrive, so that pushing the
/// same results again (a resumed run, a repeated command) sends only what the destination has not stored.
public final class PushLog: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var stored: Set<String>
    private let file: LineAppender

    /// Opens (creating) the record; reads which SOP instances it records as stored, per destination.
    public init(path: String) throws {
        self.path = path
        stored = []
        if let data = FileManager.default.contents(atPath: path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let node = try? JSONParser.parse(String(line)), let uid = node.member("sopInstanceUID")?.value.string,
                      let destination = node.member("destination")?.value.string,
                      let status = node.member("status")?.value.string, status == "stored" || status == "warning" else { continue }
                stored.insert(destination + "\n" + uid)
            }
        }
        file = try LineAppender(path: path)
    }

    /// True when an earlier push stored `sopInstanceUID` at `destination`.
    public func wasStored(_ sopInstanceUID: String, at destination: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return stored.contains(destination + "\n" + sopInstanceUID)
    }

    /// Appends records (each one `write` of one line).
    public func append(_ records: [PushRecord]) throws {
        lock.lock()
        defer { lock.unlock() }
        for r in records {
            try file.append(r.json.serialized(pretty: false))
            if let uid = r.sopInstanceUID, r.status == .stored || r.status == .warning { stored.insert(r.destination + "\n" + uid) }
        }
    }
}

/// Where results are pushed: a DICOMweb service (STOW-RS) or a DIMSE peer (C-STORE).
public protocol InstanceDestination: Sendable {
    /// The destination as records and messages name it (never with credentials).
    var name: String { get }
    /// Stores the files (their SOP Instance UIDs given in order) in one request and returns the answer for
    /// each, in order.
    /// - Throws: when the request fails as a whole.
    func store(paths: [String], sopInstanceUIDs: [String]) throws -> [StoreOutcome]
    /// True for failures worth retrying (a broken connection, a busy server).
    func isRetryable(_ error: Error) -> Bool
    /// At most this many files and bytes per request (one file larger than that goes alone).
    var batchLimit: (files: Int, bytes: Int) { get }
}

extension DICOMwebClient: InstanceDestination {
    /// Stores the files with one STOW-RS request.
    /// - Throws: `DICOMwebError.unreadable` for a file that cannot be read, `HTTPError` when the request fails.
    public func store(paths: [String], sopInstanceUIDs: [String]) throws -> [StoreOutcome] {
        var files: [(path: String, bytes: [UInt8])] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { throw DICOMwebError.unreadable(path) }
            files.append((path, [UInt8](data)))
        }
        return try store(files, sopInstanceUIDs: sopInstanceUIDs)
    }

    public var batchLimit: (files: Int, bytes: Int) { (100, 32 << 20) }
}

/// Sends DICOM files to a destination (DICOMweb STOW-RS or DIMSE C-STORE), in batches, retrying failures
/// that may pass, and skipping instances a push record says the destination already stored.
public enum InstancePush {
    /// Pushes `files`.
    /// - Parameters:
    ///   - log: the push record to consult and extend (nil: send everything, record nothing).
    ///   - names: how the files are named in the records (default: their paths), e.g. their final place when
    ///     they are sent from a staging folder.
    /// - Returns: one record per file, in order; failures are records, never thrown.
    public static func run(_ destination: some InstanceDestination, files: [String], names: [String]? = nil, log: PushLog?,
                           retries: Int = 3, backoff: Double = 1) -> [PushRecord] {
        let names = names.flatMap { $0.count == files.count ? $0 : nil } ?? files
        let limit = destination.batchLimit
        var records: [PushRecord?] = Array(repeating: nil, count: files.count)
        var batch: [(index: Int, path: String, uid: String)] = []
        var batchSize = 0

        func flush() {
            guard !batch.isEmpty else { return }
            var wait = backoff
            var outcomes: [StoreOutcome]?
            var failure = ""
            for attempt in 0...retries {
                do {
                    outcomes = try destination.store(paths: batch.map(\.path), sopInstanceUIDs: batch.map(\.uid))
                    break
                } catch {
                    failure = "\(error)"
                    guard destination.isRetryable(error), attempt < retries else { break }
                    Thread.sleep(forTimeInterval: wait)
                    wait *= 2
                }
            }
            var done: [PushRecord] = []
            for (n, item) in batch.enumerated() {
                var r = records[item.index] ?? PushRecord(file: names[item.index], status: .failed, destination: destination.name)
                if let outcomes, n < outcomes.count {
                    r.status = PushRecord.Status(rawValue: outcomes[n].status.rawValue) ?? .failed
                    r.reason = outcomes[n].reason
                } else {
                    r.status = .failed
                    r.reason = failure
                }
                records[item.index] = r
                done.append(r)
            }
            if let log {
                do { try log.append(done) } catch {
                    for item in batch {
                        let earlier = records[item.index]?.reason.map { $0 + "; " } ?? ""
                        records[item.index]?.reason = earlier + "not recorded: \(error)"
                    }
                }
            }
            batch = []
            batchSize = 0
        }

        for (index, path) in files.enumerated() {
            let header: DICOMHeader
            do {
                header = try DICOMHeader.read(path)
            } catch {
                records[index] = PushRecord(file: names[index], status: .failed, reason: "not sent: \(error)", destination: destination.name)
                continue
            }
            var record = PushRecord(file: names[index], sopInstanceUID: header.sopInstanceUID, seriesInstanceUID: header.seriesInstanceUID,
                                    status: .failed, destination: destination.name)
            if let log, log.wasStored(header.sopInstanceUID, at: destination.name) {
                record.status = .skipped
                records[index] = record
                continue
            }
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
                  FileManager.default.isReadableFile(atPath: path) else {
                record.reason = "not sent: cannot read the file"
                records[index] = record
                continue
            }
            records[index] = record
            if batchSize + size > limit.bytes || batch.count >= limit.files { flush() }
            batch.append((index, path, header.sopInstanceUID))
            batchSize += size
        }
        flush()
        return records.enumerated().map { n, r in r ?? PushRecord(file: names[n], status: .failed, reason: "not sent", destination: destination.name) }
    }
}
