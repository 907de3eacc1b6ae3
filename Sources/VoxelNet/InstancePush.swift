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
    /// The service root it went to (never with credentials).
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

/// Sends DICOM files to a DICOMweb server with STOW-RS, in batches, retrying failures that may pass, and
/// skipping instances a push record says the server already stored.
public enum InstancePush {
    /// Pushes `files`.
    /// - Parameters:
    ///   - log: the push record to consult and extend (nil: send everything, record nothing).
    ///   - names: how the files are named in the records (default: their paths), e.g. their final place when
    ///     they are sent from a staging folder.
    ///   - batchBytes: at most this many bytes per request (one file larger than that goes alone).
    /// - Returns: one record per file, in order; failures are records, never thrown.
    public static func run(_ client: DICOMwebClient, files: [String], names: [String]? = nil, log: PushLog?, retries: Int = 3, backoff: Double = 1,
                           batchBytes: Int = 32 << 20) -> [PushRecord] {
        let names = names.flatMap { $0.count == files.count ? $0 : nil } ?? files
        var records: [PushRecord?] = Array(repeating: nil, count: files.count)
        var batch: [(index: Int, path: String, bytes: [UInt8], uid: String)] = []
        var batchSize = 0

        func flush() {
            guard !batch.isEmpty else { return }
            var wait = backoff
            var outcomes: [StoreOutcome]?
            var failure = ""
            for attempt in 0...retries {
                do {
                    outcomes = try client.store(batch.map { ($0.path, $0.bytes) }, sopInstanceUIDs: batch.map(\.uid))
                    break
                } catch {
                    failure = "\(error)"
                    guard (error as? HTTPError)?.isRetryable == true, attempt < retries else { break }
                    Thread.sleep(forTimeInterval: wait)
                    wait *= 2
                }
            }
            var done: [PushRecord] = []
            for (n, item) in batch.enumerated() {
                var r = records[item.index] ?? PushRecord(file: names[item.index], status: .failed, destination: client.root)
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
                records[index] = PushRecord(file: names[index], status: .failed, reason: "not sent: \(error)", destination: client.root)
                continue
            }
            var record = PushRecord(file: names[index], sopInstanceUID: header.sopInstanceUID, seriesInstanceUID: header.seriesInstanceUID,
                                    status: .failed, destination: client.root)
            if let log, log.wasStored(header.sopInstanceUID, at: client.root) {
                record.status = .skipped
                records[index] = record
                continue
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                record.reason = "not sent: cannot read the file"
                records[index] = record
                continue
            }
            records[index] = record
            if batchSize + data.count > batchBytes || batch.count >= 100 { flush() }
            batch.append((index, path, [UInt8](data), header.sopInstanceUID))
            batchSize += data.count
        }
        flush()
        return records.enumerated().map { n, r in r ?? PushRecord(file: names[n], status: .failed, reason: "not sent", destination: client.root) }
    }
}
