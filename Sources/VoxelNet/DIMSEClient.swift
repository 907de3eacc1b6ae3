import CDCMTKNet
import Foundation

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

/// A query/retrieve client over DIMSE (DCMTK's dcmnet): Study Root C-FIND at series level and C-GET,
/// whose instances arrive as C-STORE sub-operations on the same association (no listening port needed).
public struct DIMSEClient: SeriesSource {
    public let host: String
    public let port: UInt16
    public let calledAETitle: String
    public let callingAETitle: String
    /// Seconds for connecting and for each message.
    public var timeout = 30

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

    public func retrieveSeries(_ series: RemoteSeries, into directory: String) throws -> (instances: Int, bytes: Int64) {
        let files = ReceivedFiles(directory: directory)
        var completed: Int32 = 0, failed: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let status: Int32 = withPeer { peer in
            series.studyUID.withCString { study in
                series.seriesUID.withCString { uid in
                    directory.withCString { dir in
                        let context = Unmanaged.passUnretained(files).toOpaque()
                        return message.withUnsafeMutableBufferPointer { buffer in
                            vf_scu_get_series(&peer, study, uid, dir, { path, context in
                                guard let path, let context else { return }
                                Unmanaged<ReceivedFiles>.fromOpaque(context).takeUnretainedValue().add(String(cString: path))
                            }, context, &completed, &failed, buffer.baseAddress, buffer.count)
                        }
                    }
                }
            }
        }
        if let problem = files.problem { throw DIMSEError(message: problem, isRetryable: false) }
        if status != 0 { throw DIMSEError(message: "\(name): \(cText(message))", isRetryable: true) }
        if failed > 0 { throw DIMSEError(message: "\(name): \(failed) of \(Int(failed) + Int(completed)) instances failed to arrive (C-GET sub-operations)", isRetryable: true) }
        return (files.count, files.bytes)
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

/// Renames each instance of a C-GET from its temporary name to the next `NNNNN.dcm`.
private final class ReceivedFiles: @unchecked Sendable {
    let directory: String
    private(set) var count = 0
    private(set) var bytes: Int64 = 0
    private(set) var problem: String?

    init(directory: String) { self.directory = directory }

    func add(_ path: String) {
        count += 1
        let final = "\(directory)/\(String(format: "%05d", count)).dcm"
        if rename(path, final) != 0 { problem = "\(final): cannot rename the received instance: \(String(cString: strerror(errno)))" }
        var info = stat()
        if stat(final, &info) == 0 { bytes += Int64(info.st_size) }
    }
}
