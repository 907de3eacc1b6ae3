import Foundation
import Testing
import TestSupport
@testable import VoxelNet

/// STOW-RS answers and the push record, without a server (scripts/pacs_e2e.sh checks them against Orthanc).
@Suite("STOW-RS answers and push records")
struct DICOMwebStoreTests {
    @Test("a STOW-RS answer gives each instance its outcome: stored, stored with a warning, failed with the reason")
    func storeAnswer() throws {
        // The shape PS3.18 10.5.3 gives (and Orthanc answers with): ReferencedSOPSequence, FailedSOPSequence.
        let answer = """
        {"00081190":{"vr":"UR","Value":["http://pacs/dicom-web/studies/1.2"]},
         "00081199":{"vr":"SQ","Value":[
            {"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.66.4"]},"00081155":{"vr":"UI","Value":["1.2.3.1"]}},
            {"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.66.4"]},"00081155":{"vr":"UI","Value":["1.2.3.2"]},"00081196":{"vr":"US","Value":[45056]}}]},
         "00081198":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.3.3"]},"00081197":{"vr":"US","Value":[49442]}}]}}
        """
        let outcomes = try DICOMwebClient.parseStoreAnswer(Array(answer.utf8), status: 202, sopInstanceUIDs: ["1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"], url: "u")
        #expect(outcomes.map(\.status) == [.stored, .warning, .failed, .failed])
        #expect(outcomes[1].reason == "coercion of data elements (0xB000)")
        #expect(outcomes[2].reason == "SOP class not supported (0xC122)")
        #expect(outcomes[3].reason?.contains("not in the server's answer") == true)
        // Orthanc's success answer carries an empty FailedSOPSequence.
        let ok = #"{"00081198":{"vr":"SQ"},"00081199":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["9.9"]}}]}}"#
        #expect(try DICOMwebClient.parseStoreAnswer(Array(ok.utf8), status: 200, sopInstanceUIDs: ["9.9"], url: "u").map(\.status) == [.stored])
        #expect(throws: DICOMwebError.self) { try DICOMwebClient.parseStoreAnswer(Array("<html>".utf8), status: 200, sopInstanceUIDs: ["1"], url: "u") }
    }

    @Test("the push record remembers what each destination stored, across reopenings, and nothing else")
    func pushLog() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let path = dir + "/pushed.jsonl"
        let log = try PushLog(path: path)
        #expect(!log.wasStored("1.2", at: "http://a/dicom-web"))
        try log.append([
            PushRecord(file: "cases/x/seg.dcm", sopInstanceUID: "1.2", seriesInstanceUID: "1", status: .stored, destination: "http://a/dicom-web"),
            PushRecord(file: "cases/y/seg.dcm", sopInstanceUID: "1.3", seriesInstanceUID: "1", status: .failed, reason: "x", destination: "http://a/dicom-web"),
            PushRecord(file: "cases/z/seg.dcm", sopInstanceUID: "1.4", seriesInstanceUID: "1", status: .warning, reason: "w", destination: "http://a/dicom-web"),
        ])
        #expect(log.wasStored("1.2", at: "http://a/dicom-web"))
        let again = try PushLog(path: path)
        #expect(again.wasStored("1.2", at: "http://a/dicom-web") && again.wasStored("1.4", at: "http://a/dicom-web"))
        #expect(!again.wasStored("1.3", at: "http://a/dicom-web"))
        #expect(!again.wasStored("1.2", at: "http://b/dicom-web"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 3)
    }

    @Test("a push to a server that does not answer fails every file with the reason and records nothing as stored")
    func pushToNobody() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let file = TestPaths.repositoryRoot + "/sample-data/dicom/CT_small.dcm"
        let client = try DICOMwebClient(root: "http://127.0.0.1:9/dicom-web", options: HTTPOptions())
        let log = try PushLog(path: dir + "/pushed.jsonl")
        let records = InstancePush.run(client, files: [file, dir], log: log, retries: 1, backoff: 0.01)
        #expect(records.map(\.status) == [.failed, .failed])
        #expect(records[0].reason?.contains("127.0.0.1:9") == true, "\(records[0].reason ?? "")")
        #expect(records[1].reason?.hasPrefix("not sent:") == true)
        #expect(records[0].sopInstanceUID == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
        #expect(!log.wasStored("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", at: client.root))
    }
}

/// DIMSE peers as `voxelflow pull` takes them.
@Suite("DIMSE peer addresses")
struct DIMSEAddressTests {
    @Test("dimse://AE@host:port parses; a missing AE title, a bad port or an AE title over 16 characters is refused")
    func addresses() throws {
        let c = try DIMSEClient(url: "dimse://ORTHANC@127.0.0.1:14242", callingAETitle: "VOXELFLOW")
        #expect(c.calledAETitle == "ORTHANC" && c.host == "127.0.0.1" && c.port == 14242 && c.name == "dimse://ORTHANC@127.0.0.1:14242")
        #expect(try DIMSEClient(url: "dimse://PACS@pacs.example.org", callingAETitle: "X").port == 104)
        for bad in ["dimse://127.0.0.1:104", "dimse://PACS@host:0", "dimse://PACS@host:99999", "dimse://PACS@", "http://PACS@host:104",
                    "dimse://AN_AE_TITLE_TOO_LONG@host:104"] {
            #expect(throws: DIMSEError.self, "\(bad)") { try DIMSEClient(url: bad, callingAETitle: "VOXELFLOW") }
        }
        #expect(throws: DIMSEError.self) { try DIMSEClient(url: "dimse://PACS@host:104", callingAETitle: "") }
    }

    @Test("a peer that does not answer: the search fails with the reason, worth retrying")
    func silentPeer() throws {
        var c = try DIMSEClient(url: "dimse://PACS@127.0.0.1:1", callingAETitle: "VOXELFLOW")
        c.timeout = 2
        do {
            _ = try c.searchSeries(SeriesQuery())
            Issue.record("a search on a closed port succeeded")
        } catch let e as DIMSEError {
            #expect(e.isRetryable && e.message.hasPrefix("dimse://PACS@127.0.0.1:1: cannot open an association"), "\(e)")
        }
    }
}
