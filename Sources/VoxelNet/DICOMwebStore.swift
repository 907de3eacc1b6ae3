import Foundation
import VoxelIO
import VoxelSupport

/// What the server said about one stored instance.
public struct StoreOutcome: Sendable, Equatable {
    public enum Status: String, Sendable { case stored, warning, failed }

    public var sopInstanceUID: String
    public var status: Status
    /// WarningReason or FailureReason (PS3.18 Table 10.5.3-1 codes), with their meaning when known.
    public var reason: String?
}

extension DICOMwebClient {
    /// Stores DICOM files with STOW-RS (`POST {root}/studies`, one multipart request) and returns the
    /// server's answer for each SOP instance in `sopInstanceUIDs` (the files' own, in order).
    /// - Throws: `HTTPError` when the request fails as a whole, `DICOMwebError` for an unreadable answer.
    public func store(_ files: [(path: String, bytes: [UInt8])], sopInstanceUIDs: [String]) throws -> [StoreOutcome] {
        let boundary = "voxelflow-" + SHA256.hex(Array(sopInstanceUIDs.joined(separator: "\\").utf8)).prefix(24)
        var body: [UInt8] = []
        for f in files {
            body += Array("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8)
            body += f.bytes
            body += Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let url = "\(root)/studies"
        // 409: every instance failed; 202: some failed or have warnings. Both carry the per-instance answer.
        let (head, answer) = try http.post(url, headers: [
            "Content-Type: multipart/related; type=\"application/dicom\"; boundary=\(boundary)",
            "Accept: application/dicom+json",
        ], body: body, accepting: [409])
        return try DICOMwebClient.parseStoreAnswer(answer, status: head.status, sopInstanceUIDs: sopInstanceUIDs, url: url)
    }

    /// The outcome of each instance from a STOW-RS answer (PS3.18 10.5.3): ReferencedSOPSequence lists the
    /// stored ones (with a WarningReason when stored with coercion), FailedSOPSequence the others (with a
    /// FailureReason). An instance named in neither is failed with "not in the answer".
    static func parseStoreAnswer(_ bytes: [UInt8], status: Int, sopInstanceUIDs: [String], url: String) throws -> [StoreOutcome] {
        var byUID: [String: StoreOutcome] = [:]
        if !bytes.isEmpty {
            let node: JSONNode
            do { node = try JSONParser.parse(bytes: bytes) } catch { throw DICOMwebError.notDICOMJSON(url: url, reason: "\(error)") }
            // Some servers answer with an array holding the one dataset.
            var dataset = node
            if case .array(let items) = node.value, let first = items.first { dataset = first }
            func items(_ tag: String) -> [JSONNode] {
                if case .array(let values)? = dataset.member(tag)?.value.member("Value")?.value.value { return values }
                return []
            }
            func value(_ item: JSONNode, _ tag: String) -> String? {
                guard case .array(let values)? = item.member(tag)?.value.member("Value")?.value.value, let first = values.first else { return nil }
                if case .number(let d) = first.value { return String(Int(d)) }
                return first.string
            }
            for item in items("00081199") {
                guard let uid = value(item, "00081155") else { continue }
                let warning = value(item, "00081196")
                byUID[uid] = StoreOutcome(sopInstanceUID: uid, status: warning == nil ? .stored : .warning, reason: warning.map(storeReason))
            }
            for item in items("00081198") {
                guard let uid = value(item, "00081155") else { continue }
                byUID[uid] = StoreOutcome(sopInstanceUID: uid, status: .failed, reason: value(item, "00081197").map(storeReason) ?? "no reason given")
            }
        }
        return sopInstanceUIDs.map { uid in
            byUID[uid] ?? StoreOutcome(sopInstanceUID: uid, status: status == 200 && bytes.isEmpty ? .stored : .failed,
                                       reason: status == 200 && bytes.isEmpty ? nil : "not in the server's answer (HTTP \(status))")
        }
    }

    /// A STOW-RS warning or failure code with its meaning (PS3.18 Table 10.5.3-1, PS3.4 Annex B).
    static func storeReason(_ code: String) -> String {
        let meanings: [String: String] = [
            "272": "processing failure (0x0110)", "290": "referenced SOP class not supported (0x0122)",
            "49152": "cannot understand (0xC000)", "42752": "out of resources (0xA700)", "43264": "data set does not match SOP class (0xA900)",
            "45056": "coercion of data elements (0xB000)", "45063": "data set does not match SOP class (warning, 0xB007)",
            "45062": "elements discarded (0xB006)", "49442": "SOP class not supported (0xC122)",
        ]
        return meanings[code].map { "\($0)" } ?? "code \(code)"
    }
}
