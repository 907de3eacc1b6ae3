import Foundation
import VoxelIO
import VoxelSupport

/// A series as a QIDO-RS search describes it.
public struct RemoteSeries: Sendable, Equatable {
    public var studyUID: String
    public var seriesUID: String
    public var modality: String?
    public var description: String?
    public var studyDate: String?
    /// NumberOfSeriesRelatedInstances, when the server gives it.
    public var instances: Int?

    public init(studyUID: String, seriesUID: String, modality: String? = nil, description: String? = nil, studyDate: String? = nil, instances: Int? = nil) {
        self.studyUID = studyUID
        self.seriesUID = seriesUID
        self.modality = modality
        self.description = description
        self.studyDate = studyDate
        self.instances = instances
    }
}

/// What to search for. Patient IDs and accession numbers are sent to the server and never written to
/// logs or records.
public struct SeriesQuery: Sendable {
    /// Modalities (CT, MR, …); any when empty.
    public var modalities: [String] = []
    /// A StudyDate value or range as QIDO-RS takes it (`20240101-20241231`, `20240101-`).
    public var studyDate: String?
    /// Only series whose SeriesDescription matches this regular expression (checked here, not by the server).
    public var descriptionPattern: String?
    /// Only these patients (one search each).
    public var patientIDs: [String] = []
    /// Only these accession numbers (one search each).
    public var accessionNumbers: [String] = []

    public init() {}
}

/// A DICOMweb client: QIDO-RS series searches and WADO-RS series retrieval (PS3.18), over `HTTPClient`.
public struct DICOMwebClient: Sendable {
    /// The service root, e.g. `https://pacs.example.org/dicom-web` (no trailing slash).
    public let root: String
    public let http: HTTPClient
    /// Results per QIDO page.
    public var pageSize = 500

    public init(root: String, options: HTTPOptions) throws {
        var r = root
        while r.hasSuffix("/") { r.removeLast() }
        try HTTPClient.checkURL(r)
        self.root = r
        http = HTTPClient(options: options)
    }

    /// The series matching `query`, in the server's order, without duplicates.
    /// - Throws: `HTTPError`, `DICOMwebError` for answers that are not DICOM JSON, `DICOMwebError.badPattern`.
    public func searchSeries(_ query: SeriesQuery) throws -> [RemoteSeries] {
        var pattern: NSRegularExpression?
        if let p = query.descriptionPattern {
            do { pattern = try NSRegularExpression(pattern: p) } catch { throw DICOMwebError.badPattern(p) }
        }
        var base: [(String, String)] = []
        if let date = query.studyDate { base.append(("StudyDate", date)) }
        // One search per modality, patient and accession number (QIDO matches single values).
        let modalities: [String?] = query.modalities.isEmpty ? [nil] : query.modalities
        var keys: [[(String, String)]] = [[]]
        if !query.patientIDs.isEmpty { keys = query.patientIDs.map { [("PatientID", $0)] } }
        if !query.accessionNumbers.isEmpty {
            keys = keys.flatMap { k in query.accessionNumbers.map { k + [("AccessionNumber", $0)] } }
        }
        var seen = Set<String>()
        var found: [RemoteSeries] = []
        for modality in modalities {
            for k in keys {
                var parameters = base + k
                if let modality { parameters.append(("Modality", modality)) }
                for s in try searchAllPages(parameters) where !seen.contains(s.seriesUID) {
                    if let pattern {
                        let text = s.description ?? ""
                        guard pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil else { continue }
                    }
                    seen.insert(s.seriesUID)
                    found.append(s)
                }
            }
        }
        return found
    }

    private func searchAllPages(_ parameters: [(String, String)]) throws -> [RemoteSeries] {
        var all: [RemoteSeries] = []
        var offset = 0
        while true {
            var items = URLComponents()
            items.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) } + [
                URLQueryItem(name: "includefield", value: "0008103E"),
                URLQueryItem(name: "includefield", value: "00201209"),
                URLQueryItem(name: "includefield", value: "00080020"),
                URLQueryItem(name: "limit", value: "\(pageSize)"),
                URLQueryItem(name: "offset", value: "\(offset)"),
            ]
            let url = "\(root)/series?" + (items.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            let (head, bytes) = try http.getBytes(url, headers: ["Accept: application/dicom+json"])
            // 204 No Content: nothing matches.
            if head.status == 204 || bytes.isEmpty { break }
            let page = try DICOMwebClient.parseSeries(bytes, url: "\(root)/series")
            all += page
            if page.count < pageSize { break }
            offset += page.count
        }
        return all
    }

    /// The series of a QIDO-RS answer (a DICOM JSON array, PS3.18 F.2).
    static func parseSeries(_ bytes: [UInt8], url: String) throws -> [RemoteSeries] {
        let node: JSONNode
        do { node = try JSONParser.parse(bytes: bytes) } catch { throw DICOMwebError.notDICOMJSON(url: url, reason: "\(error)") }
        guard case .array(let items) = node.value else { throw DICOMwebError.notDICOMJSON(url: url, reason: "the answer is not a JSON array") }
        return try items.map { item in
            func value(_ tag: String) -> String? {
                guard case .array(let values)? = item.member(tag)?.value.member("Value")?.value.value, let first = values.first else { return nil }
                if case .number(let d) = first.value { return d == d.rounded() ? String(Int(d)) : String(d) }
                return first.string
            }
            guard let study = value("0020000D"), let series = value("0020000E") else {
                throw DICOMwebError.notDICOMJSON(url: url, reason: "a result without StudyInstanceUID or SeriesInstanceUID")
            }
            return RemoteSeries(studyUID: study, seriesUID: series, modality: value("00080060"), description: value("0008103E"),
                                studyDate: value("00080020"), instances: value("00201209").flatMap { Int($0) })
        }
    }

    /// Retrieves every instance of a series (WADO-RS, in the transfer syntax the server stores) into
    /// `directory` (which must exist) as `00001.dcm`, `00002.dcm`, … in the order received; each file is
    /// streamed to disk under a temporary name and renamed when complete, so memory stays bounded whatever
    /// the series' size. Returns the number of instances and of bytes.
    /// - Throws: `HTTPError`, `MultipartError`, `DICOMwebError.notMultipart`, `FileIOError`.
    public func retrieveSeries(_ series: RemoteSeries, into directory: String) throws -> (instances: Int, bytes: Int64) {
        let url = "\(root)/studies/\(series.studyUID)/series/\(series.seriesUID)"
        var reader: MultipartReader?
        var count = 0
        var bytes: Int64 = 0
        var fd: Int32 = -1
        var temporary = ""
        defer { if fd >= 0 { close(fd); unlink(temporary) } }
        let handler = MultipartReader.Handler(
            partStarted: { _ in
                temporary = "\(directory)/.\(String(format: "%05d", count + 1)).dcm.partial"
                fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw FileIOError(path: temporary, operation: .open, reason: String(cString: strerror(errno))) }
            },
            partData: { chunk in
                guard let base = chunk.baseAddress else { return }
                var offset = 0
                while offset < chunk.count {
                    let n = write(fd, base + offset, chunk.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw FileIOError(path: temporary, operation: .write, reason: String(cString: strerror(errno))) }
                    offset += n
                }
                bytes += Int64(chunk.count)
            },
            partEnded: {
                close(fd)
                fd = -1
                count += 1
                let final = "\(directory)/\(String(format: "%05d", count)).dcm"
                guard rename(temporary, final) == 0 else { throw FileIOError(path: final, operation: .rename, reason: String(cString: strerror(errno))) }
            })
        try http.get(url, headers: [#"Accept: multipart/related; type="application/dicom"; transfer-syntax=*"#]) { chunk, head in
            if reader == nil {
                let type = head.headers["content-type"] ?? ""
                guard let boundary = MultipartReader.boundary(ofContentType: type) else {
                    throw DICOMwebError.notMultipart(url: url, contentType: type)
                }
                reader = MultipartReader(boundary: boundary, handler: handler)
            }
            try reader?.feed(chunk)
        }
        // No answer body at all: the series has no instance.
        try reader?.finish()
        return (count, bytes)
    }
}

/// A DICOMweb answer VoxelFlow cannot use.
public enum DICOMwebError: Error, CustomStringConvertible, Sendable {
    case notDICOMJSON(url: String, reason: String)
    case notMultipart(url: String, contentType: String)
    case badPattern(String)
    /// A file to send that cannot be read.
    case unreadable(String)

    public var description: String {
        switch self {
        case .notDICOMJSON(let url, let reason): return "\(url): not a DICOM JSON answer: \(reason)"
        case .notMultipart(let url, let type): return "\(url): expected a multipart/related answer, got \(type.isEmpty ? "no Content-Type" : type)"
        case .badPattern(let p): return "--description \(p): not a regular expression"
        case .unreadable(let path): return "\(path): cannot read the file"
        }
    }
}
