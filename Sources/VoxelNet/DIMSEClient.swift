import CDCMTKNet
import Foundation
import VoxelIO

/// Where series come from: a DICOMweb service or a DIMSE peer. `SeriesPull` works with either.
public protocol SeriesSource: Sendable {
    /// The source as records and messages name it (never with credentials).
    var name: String { get }
    /// The series matching `query`, without duplicates.
    func searchSeries(_ query: SeriesQuery) throws -> [RemoteSeries]
    /// Retrieves every instance of `series` into `directory` as `00001.dcm`, `00002.dcm`, …
    func retrieveSeries(_ series: RemoteSeries, into directory: String) throws -> (instances: Int, bytes: Int64)
    /// True for failures worth retrying (a broken connection, a busy peer).
    func isRetryable(_ error: Error) -> Bool
}

extension DICOMwebClient: SeriesSource {
    public var name: String { root }

    public func isRetryable(_ error: Error) -> Bool {
        (error as? HTTPError)?.isRetryable ?? (error is MultipartError)
    }
}

/// A DIMSE failure: an association that cannot be opened, a C-FIND or C-GET that fails.
public struct DIMSEError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// True when the association could not be opened or broke (worth retrying).
    public let isRetryable: Bool
    public var description: String { message }
}

/// A DIMSE client (DCMTK's dcmnet): Study Root C-FIND at series level; retrieval by C-GET, whose
/// instances arrive as C-STORE sub-operations on the same association (no listening port needed), or by
/// C-MOVE to a storage SCP of ours that listens only while the series arrives (for a PACS that refuses
/// C-GET); and C-STORE of results (`InstanceDestination`).
public struct DIMSEClient: SeriesSource {
    public let host: String
    public let port: UInt16
    public let calledAETitle: String
    public let callingAETitle: String
    /// Seconds for connecting and for each message.
    public var timeout = 30
    /// Retrieve by C-MOVE to this AE title, listening on this port (the peer must know the AE title as this
    /// host and port); nil: C-GET. C-MOVE retrievals of one process run one at a time, since they share the port.
    public var move: (aeTitle: String, port: UInt16)?
    /// C-GET: associations that share the retrieval of one series (its instances listed by an IMAGE-level
    /// C-FIND, then split between them); a PACS answers each association's sub-operations one by one, so
    /// several in parallel multiply the throughput. 1, or a peer that lists no instances, retrieves the series
    /// on one association. C-MOVE always uses one.
    public var associations = 4

    public var name: String { "dimse://\(calledAETitle)@\(host):\(port)" }

    /// - Parameter url: `dimse://CALLED_AE@host:port` (port 104 when left out).
    /// - Throws: `DIMSEError` for a malformed address or AE title.
    public init(url: String, callingAETitle: String) throws {
        guard url.lowercased().hasPrefix("dimse://") else { throw DIMSEError(message: "\(url): not a dimse://AE@host:port address", isRetryable: false) }
        let rest = url.dropFirst("dimse://".count)
        guard let at = rest.lastIndex(of: "@") else { throw DIMSEError(message: "\(url): give the peer's AE title: dimse://AE@host:port", isRetryable: false) }
        let ae = String(rest[..<at]).removingPercentEncoding ?? String(rest[..<at])
        var hostPort = String(rest[rest.index(after: at)...])
        while hostPort.hasSuffix("/") { hostPort.removeLast() }
        var port: UInt16 = 104
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let p = UInt16(hostPort[hostPort.index(after: colon)...]), p > 0 else { throw DIMSEError(message: "\(url): the port is not a number 1–65535", isRetryable: false) }
            port = p
            hostPort = String(hostPort[..<colon])
        }
        guard !hostPort.isEmpty else { throw DIMSEError(message: "\(url): no host", isRetryable: false) }
        for title in [ae, callingAETitle] where title.isEmpty || title.count > 16 || !title.allSatisfy({ $0.isASCII && $0 != "\\" && !$0.isNewline }) {
            throw DIMSEError(message: "AE title \"\(title)\": 1–16 ASCII characters without backslashes", isRetryable: false)
        }
        host = hostPort
        self.port = port
        calledAETitle = ae
        self.callingAETitle = callingAETitle
    }

    /// Sets C-MOVE retrieval to `aeTitle` on `port`.
    /// - Throws: `DIMSEError` for an AE title that is not 1–16 ASCII characters without backslashes, or port 0.
    public mutating func retrieveByMove(aeTitle: String, port: UInt16) throws {
        guard !aeTitle.isEmpty, aeTitle.count <= 16, aeTitle.allSatisfy({ $0.isASCII && $0 != "\\" && !$0.isNewline }) else {
            throw DIMSEError(message: "AE title \"\(aeTitle)\": 1–16 ASCII characters without backslashes", isRetryable: false)
        }
        guard port > 0 else { throw DIMSEError(message: "the C-MOVE port must be 1–65535", isRetryable: false) }
        move = (aeTitle, port)
    }

    public func isRetryable(_ error: Error) -> Bool { (error as? DIMSEError)?.isRetryable ?? false }

    private func withPeer<R>(_ body: (inout vf_scu_peer) -> R) -> R {
        host.withCString { h in
            callingAETitle.withCString { calling in
                calledAETitle.withCString { called in
                    var peer = vf_scu_peer(host: h, port: port, calling_ae_title: calling, called_ae_title: called, timeout: Int32(timeout))
                    return body(&peer)
                }
            }
        }
    }

    public func searchSeries(_ query: SeriesQuery) throws -> [RemoteSeries] {
        var pattern: NSRegularExpression?
        if let p = query.descriptionPattern {
            do { pattern = try NSRegularExpression(pattern: p) } catch { throw DICOMwebError.badPattern(p) }
        }
        let modalities: [String?] = query.modalities.isEmpty ? [nil] : query.modalities
        let patients: [String?] = query.patientIDs.isEmpty ? [nil] : query.patientIDs
        let accessions: [String?] = query.accessionNumbers.isEmpty ? [nil] : query.accessionNumbers
        let found = FoundSeries()
        for modality in modalities {
            for patient in patients {
                for accession in accessions {
                    var message = [CChar](repeating: 0, count: 512)
                    let status: Int32 = withPeer { peer in
                        withOptional(modality) { m in withOptional(query.studyDate) { d in withOptional(patient) { p in withOptional(accession) { a in
                            var filters = vf_scu_filters(modality: m, study_date: d, patient_id: p, accession_number: a)
                            let context = Unmanaged.passUnretained(found).toOpaque()
                            return message.withUnsafeMutableBufferPointer { buffer in
                                vf_scu_find_series(&peer, &filters, { study, series, modality, description, date, instances, context in
                                    guard let context, let study, let series else { return }
                                    let s = RemoteSeries(studyUID: String(cString: study), seriesUID: String(cString: series),
                                                         modality: modality.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 },
                                                         description: description.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 },
                                                         studyDate: date.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 },
                                                         instances: instances >= 0 ? Int(instances) : nil)
                                    Unmanaged<FoundSeries>.fromOpaque(context).takeUnretainedValue().add(s)
                                }, context, buffer.baseAddress, buffer.count)
                            }
                        } } } }
                    }
                    if status != 0 { throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: true) }
                }
            }
        }
        return found.items.filter { s in
            guard let pattern else { return true }
            let text = s.description ?? ""
            return pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
    }

    /// The SOP Instance UIDs of a series (Study Root C-FIND at IMAGE level).
    /// - Throws: `DIMSEError` when the search fails.
    public func instanceUIDs(of series: RemoteSeries) throws -> [String] {
        final class Found: @unchecked Sendable { var uids: [String] = [] }
        let found = Found()
        var message = [CChar](repeating: 0, count: 512)
        let context = Unmanaged.passUnretained(found).toOpaque()
        let status: Int32 = withPeer { peer in
            series.studyUID.withCString { study in
                series.seriesUID.withCString { uid in
                    message.withUnsafeMutableBufferPointer { buffer in
                        vf_scu_find_instances(&peer, study, uid, { sop, context in
                            guard let sop, let context else { return }
                            Unmanaged<Found>.fromOpaque(context).takeUnretainedValue().uids.append(String(cString: sop))
                        }, context, buffer.baseAddress, buffer.count)
                    }
                }
            }
        }
        if status != 0 { throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: true) }
        var seen = Set<String>()
        return found.uids.filter { seen.insert($0).inserted }
    }

    public func retrieveSeries(_ series: RemoteSeries, into directory: String) throws -> (instances: Int, bytes: Int64) {
        if move == nil && associations > 1, let uids = try? instanceUIDs(of: series), uids.count >= 2 * associations {
            return try retrieveInParallel(series, instances: uids, into: directory)
        }
        let files = ReceivedFiles(directory: directory, seriesUID: move == nil ? nil : series.seriesUID)
        var completed: Int32 = 0, failed: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let context = Unmanaged.passUnretained(files).toOpaque()
        let stored: vf_scu_stored = { path, context in
            guard let path, let context else { return }
            Unmanaged<ReceivedFiles>.fromOpaque(context).takeUnretainedValue().add(String(cString: path))
        }
        let status: Int32 = withPeer { peer in
            series.studyUID.withCString { study in
                series.seriesUID.withCString { uid in
                    directory.withCString { dir in
                        message.withUnsafeMutableBufferPointer { buffer in
                            guard let move else {
                                return vf_scu_get_series(&peer, study, uid, nil, 0, 0, dir, stored, context, &completed, &failed,
                                                         buffer.baseAddress, buffer.count)
                            }
                            return move.aeTitle.withCString { ae in
                                DIMSEClient.moveLock.lock()
                                defer { DIMSEClient.moveLock.unlock() }
                                return vf_scu_move_series(&peer, ae, move.port, study, uid, dir, stored, context, &completed, &failed,
                                                          buffer.baseAddress, buffer.count)
                            }
                        }
                    }
                }
            }
        }
        let operation = move == nil ? "C-GET" : "C-MOVE"
        if let problem = files.problem { throw DIMSEError(message: problem, isRetryable: false) }
        if status != 0 { throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: status == -1) }
        if failed > 0 { throw DIMSEError(message: "\(name): \(failed) of \(Int(failed) + Int(completed)) instances failed to arrive (\(operation) sub-operations)", isRetryable: true) }
        if files.count == 0 && completed > 0 {
            throw DIMSEError(message: "\(name): the peer reports \(completed) instances sent, none arrived (does it send \(move?.aeTitle ?? "") to this host and port?)", isRetryable: false)
        }
        return (files.count, files.bytes)
    }

    /// C-MOVE retrievals share the listening port: one at a time per process.
    private static let moveLock = NSLock()

    /// C-GET of `instances` of `series` on `associations` associations at once, each taking the next part
    /// (at most 500 UIDs per request) until none is left.
    private func retrieveInParallel(_ series: RemoteSeries, instances: [String], into directory: String) throws -> (instances: Int, bytes: Int64) {
        let files = ReceivedFiles(directory: directory, seriesUID: nil)
        let size = min(500, (instances.count + associations - 1) / associations)
        let parts = stride(from: 0, to: instances.count, by: size).map { Array(instances[$0..<min($0 + size, instances.count)]) }
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var next = 0, completed = 0, failed = 0
            var error: DIMSEError?
        }
        let shared = Shared()
        let group = DispatchGroup()
        for worker in 0..<min(associations, parts.count) {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while true {
                    shared.lock.lock()
                    let index = shared.next
                    shared.next += 1
                    let stop = index >= parts.count || shared.error != nil
                    shared.lock.unlock()
                    if stop { return }
                    let context = Unmanaged.passUnretained(files).toOpaque()
                    var completed: Int32 = 0, failed: Int32 = 0
                    var message = [CChar](repeating: 0, count: 512)
                    let uids = parts[index].map { strdup($0) }
                    defer { uids.forEach { free($0) } }
                    let status: Int32 = withPeer { peer in
                        series.studyUID.withCString { study in
                            series.seriesUID.withCString { uid in
                                directory.withCString { dir in
                                    message.withUnsafeMutableBufferPointer { buffer in
                                        uids.map { UnsafePointer($0) }.withUnsafeBufferPointer { list in
                                            vf_scu_get_series(&peer, study, uid, list.baseAddress, list.count, UInt32(worker), dir, { path, context in
                                                guard let path, let context else { return }
                                                Unmanaged<ReceivedFiles>.fromOpaque(context).takeUnretainedValue().add(String(cString: path))
                                            }, context, &completed, &failed, buffer.baseAddress, buffer.count)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    shared.lock.lock()
                    shared.completed += Int(completed)
                    shared.failed += Int(failed)
                    if status != 0 && shared.error == nil {
                        shared.error = DIMSEError(message: "\(name): \(cText(message))", isRetryable: status == -1)
                    }
                    shared.lock.unlock()
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        if let problem = files.problem { throw DIMSEError(message: problem, isRetryable: false) }
        if let error = shared.error { throw error }
        if shared.failed > 0 {
            throw DIMSEError(message: "\(name): \(shared.failed) of \(shared.failed + shared.completed) instances failed to arrive (C-GET sub-operations)", isRetryable: true)
        }
        if files.count < instances.count {
            throw DIMSEError(message: "\(name): \(files.count) of the series' \(instances.count) instances arrived", isRetryable: true)
        }
        return (files.count, files.bytes)
    }
}

extension DIMSEClient: InstanceDestination {
    /// Sends the files by C-STORE on one association; each file's answer is its outcome.
    /// - Throws: `DIMSEError` (retryable) when the association cannot be opened or breaks before any file
    ///   is answered; non-retryable when the files need more presentation contexts than one association holds.
    public func store(paths: [String], sopInstanceUIDs: [String]) throws -> [StoreOutcome] {
        let answers = StoreAnswers(count: paths.count)
        var message = [CChar](repeating: 0, count: 512)
        let cPaths = paths.map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        let status: Int32 = withPeer { peer in
            let pointers = cPaths.map { UnsafePointer<CChar>($0) }
            return pointers.withUnsafeBufferPointer { list in
                message.withUnsafeMutableBufferPointer { buffer in
                    vf_scu_store_files(&peer, list.baseAddress, paths.count, { index, status, reason, context in
                        guard let context else { return }
                        Unmanaged<StoreAnswers>.fromOpaque(context).takeUnretainedValue()
                            .set(index, status: Int(status), reason: reason.map { String(cString: $0) } ?? "")
                    }, Unmanaged.passUnretained(answers).toOpaque(), buffer.baseAddress, buffer.count)
                }
            }
        }
        if status == -3 { throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: false) }
        if status == -1 && !answers.anyAnswered {
            throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: true)
        }
        return sopInstanceUIDs.indices.map { n in
            let uid = sopInstanceUIDs[n]
            guard let (code, reason) = answers.answers[n] else {
                return StoreOutcome(sopInstanceUID: uid, status: .failed, reason: "not sent: \(cText(message))")
            }
            switch code {
            case 0: return StoreOutcome(sopInstanceUID: uid, status: .stored, reason: nil)
            case 0xB000, 0xB006, 0xB007:
                return StoreOutcome(sopInstanceUID: uid, status: .warning, reason: DICOMwebClient.storeReason(String(code)))
            case ..<0: return StoreOutcome(sopInstanceUID: uid, status: .failed, reason: "not sent: \(reason)")
            default: return StoreOutcome(sopInstanceUID: uid, status: .failed, reason: DICOMwebClient.storeReason(String(code)))
            }
        }
    }

    public var batchLimit: (files: Int, bytes: Int) { (500, 1 << 30) }
}

/// The per-file answers of one C-STORE request.
private final class StoreAnswers: @unchecked Sendable {
    private(set) var answers: [(Int, String)?]
    init(count: Int) { answers = Array(repeating: nil, count: count) }
    var anyAnswered: Bool { answers.contains { ($0?.0 ?? -1) >= 0 } }
    func set(_ index: Int, status: Int, reason: String) {
        guard index < answers.count else { return }
        answers[index] = (status, reason)
    }
}

private func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func withOptional<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

private final class FoundSeries: @unchecked Sendable {
    private(set) var items: [RemoteSeries] = []
    private var seen = Set<String>()
    func add(_ s: RemoteSeries) {
        guard !s.seriesUID.isEmpty, seen.insert(s.seriesUID).inserted else { return }
        items.append(s)
    }
}

/// Renames each instance of a C-GET or C-MOVE from its temporary name to the next `NNNNN.dcm`. With
/// `seriesUID` (C-MOVE, whose listener accepts any sender), an instance of another series is removed.
private final class ReceivedFiles: @unchecked Sendable {
    let directory: String
    let seriesUID: String?
    private(set) var count = 0
    private(set) var bytes: Int64 = 0
    private(set) var problem: String?

    init(directory: String, seriesUID: String?) {
        self.directory = directory
        self.seriesUID = seriesUID
    }

    private let lock = NSLock()

    /// Thread-safe: the associations of a parallel C-GET report into one `ReceivedFiles`.
    func add(_ path: String) {
        if let seriesUID, (try? DICOMHeader.read(path))?.seriesInstanceUID != seriesUID {
            unlink(path)
            return
        }
        lock.lock()
        defer { lock.unlock() }
        count += 1
        let final = "\(directory)/\(String(format: "%05d", count)).dcm"
        if rename(path, final) != 0 { problem = "\(final): cannot rename the received instance: \(String(cString: strerror(errno)))" }
        var info = stat()
        if stat(final, &info) == 0 { bytes += Int64(info.st_size) }
    }
}
