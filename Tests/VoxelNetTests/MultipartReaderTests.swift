import Foundation
import Testing
@testable import VoxelNet

/// The multipart splitter that WADO-RS answers go through, fed in every chunking.
@Suite("multipart/related answers split into parts")
struct MultipartReaderTests {
    /// Splits `body` fed in chunks of `chunk` bytes; returns the parts' headers and bytes.
    static func split(_ body: [UInt8], boundary: String, chunk: Int) throws -> [([String: String], [UInt8])] {
        var parts: [([String: String], [UInt8])] = []
        var headers: [String: String] = [:]
        var current: [UInt8] = []
        let reader = MultipartReader(boundary: boundary, handler: .init(
            partStarted: { headers = $0; current = [] },
            partData: { current.append(contentsOf: $0) },
            partEnded: { parts.append((headers, current)) }))
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + chunk)
            try Array(body[offset..<end]).withUnsafeBytes { try reader.feed($0) }
            offset = end
        }
        try reader.finish()
        return parts
    }

    /// A body as a server writes it: optional preamble, parts, close delimiter, optional epilogue.
    static func body(_ parts: [[UInt8]], boundary: String, preamble: String = "", epilogue: String = "", padding: String = "") -> [UInt8] {
        var b = Array(preamble.utf8)
        if !preamble.isEmpty { b += Array("\r\n".utf8) }
        for p in parts {
            b += Array("--\(boundary)\(padding)\r\nContent-Type: application/dicom\r\nContent-Length: \(p.count)\r\n\r\n".utf8) + p + Array("\r\n".utf8)
        }
        b += Array("--\(boundary)--\r\n\(epilogue)".utf8)
        return b
    }

    @Test("every chunk size gives the same parts, byte for byte, whatever bytes they hold")
    func everyChunking() throws {
        var generator = SystemRandomNumberGenerator()
        let boundary = "vf-3f2a"
        // Parts that hold CR LF, dashes and most of the boundary itself.
        let parts: [[UInt8]] = [
            Array("DICM\r\n--vf-3f\r\n--vf-3f2\r\n-- vf-3f2a\r".utf8),
            (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) },
            [],
            Array("\r\n\r\n--".utf8),
        ]
        let b = Self.body(parts, boundary: boundary, preamble: "This is the preamble.", epilogue: "ignored epilogue", padding: " \t")
        for chunk in [1, 2, 3, 7, 13, 64, 4096, b.count] {
            let got = try Self.split(b, boundary: boundary, chunk: chunk)
            #expect(got.map(\.1) == parts, "chunk \(chunk)")
            #expect(got.allSatisfy { $0.0["content-type"] == "application/dicom" })
        }
    }

    @Test("an answer cut short is an error naming how many parts were complete; a non-multipart type has no boundary")
    func incompleteAnswer() throws {
        let b = Self.body([[1, 2, 3], [4, 5, 6]], boundary: "b")
        let cut = Array(b.prefix(b.count - 10))
        #expect(throws: MultipartError.self) { try Self.split(cut, boundary: "b", chunk: 5) }
        do {
            _ = try Self.split(cut, boundary: "b", chunk: 5)
        } catch let e as MultipartError {
            #expect("\(e)".contains("after 1 complete part"))
        }
        #expect(MultipartReader.boundary(ofContentType: #"multipart/related; type="application/dicom"; boundary="a b""#) == "a b")
        #expect(MultipartReader.boundary(ofContentType: "multipart/related;boundary=xyz;type=application/dicom") == "xyz")
        #expect(MultipartReader.boundary(ofContentType: "application/dicom+json") == nil)
        #expect(MultipartReader.boundary(ofContentType: "multipart/related") == nil)
    }

    @Test("QIDO-RS DICOM JSON: UIDs, modality, description, counts; other answers refused")
    func qidoJSON() throws {
        let text = """
        [{"0020000D":{"vr":"UI","Value":["1.2.3"]},"0020000E":{"vr":"UI","Value":["1.2.3.4"]},"00080060":{"vr":"CS","Value":["CT"]},
          "0008103E":{"vr":"LO","Value":["AX 5mm"]},"00201209":{"vr":"IS","Value":[120]},"00080020":{"vr":"DA","Value":["20240102"]}},
         {"0020000D":{"vr":"UI","Value":["1.2.3"]},"0020000E":{"vr":"UI","Value":["1.2.3.5"]}}]
        """
        let series = try DICOMwebClient.parseSeries(Array(text.utf8), url: "u")
        #expect(series == [RemoteSeries(studyUID: "1.2.3", seriesUID: "1.2.3.4", modality: "CT", description: "AX 5mm", studyDate: "20240102", instances: 120),
                           RemoteSeries(studyUID: "1.2.3", seriesUID: "1.2.3.5")])
        #expect(throws: DICOMwebError.self) { try DICOMwebClient.parseSeries(Array("{}".utf8), url: "u") }
        #expect(throws: DICOMwebError.self) { try DICOMwebClient.parseSeries(Array(#"[{"0020000D":{"vr":"UI","Value":["1"]}}]"#.utf8), url: "u") }
        #expect(throws: DICOMwebError.self) { try DICOMwebClient.parseSeries(Array("<html>".utf8), url: "u") }
    }

    @Test("only UIDs name folders; URLs with credentials or other schemes are refused")
    func uidsAndURLs() {
        #expect(SeriesPull.isValidUID("1.2.840.113619.2.55"))
        for bad in ["", "../etc", "1..2", ".1", "1.2/3", String(repeating: "1", count: 65), "1.2.a"] {
            #expect(!SeriesPull.isValidUID(bad), "\(bad)")
        }
        #expect(throws: HTTPError.self) { try HTTPClient.checkURL("https://user:secret@pacs.example.org/dicom-web") }
        do {
            try HTTPClient.checkURL("https://user:secret@pacs.example.org/dicom-web")
        } catch {
            #expect(!"\(error)".contains("secret"))
        }
        #expect(throws: HTTPError.self) { try HTTPClient.checkURL("file:///etc/passwd") }
        #expect(throws: HTTPError.self) { try HTTPClient.checkURL("ftp://pacs/dicom-web") }
        #expect((try? HTTPClient.checkURL("http://127.0.0.1:8042/dicom-web")) != nil)
        #expect("\(HTTPCredentials.basic(user: "u", password: "hunter2"))".contains("hunter2") == false)
        #expect("\(HTTPCredentials.bearer(token: "tok123"))".contains("tok123") == false)
    }

    @Test("a refused connection is a transport error that may pass, named with the URL")
    func refusedConnection() throws {
        // Port 9 (discard) on loopback: nothing listens in a test environment.
        let client = HTTPClient()
        do {
            _ = try client.getBytes("http://127.0.0.1:9/dicom-web/series", headers: [])
            Issue.record("a request to a closed port succeeded")
        } catch let e as HTTPError {
            #expect(e.isRetryable)
            #expect("\(e)".hasPrefix("http://127.0.0.1:9/dicom-web/series: "), "\(e)")
        }
    }
}
