import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
@testable import VoxelNet

/// C-STORE as a client, against VoxelFlow's own storage SCP on loopback (scripts/pacs_e2e.sh checks it,
/// and C-MOVE, against Orthanc).
@Suite("DIMSE C-STORE push")
struct DIMSEStoreTests {
    /// Waits until something accepts TCP connections on 127.0.0.1:`port` (at most `seconds`).
    static func waitForPort(_ port: UInt16, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if connected { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    @Test("C-STORE to a storage SCP: every instance stored, the received series gives the same volume, a second push sends nothing")
    func pushToListener() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let source = TestPaths.repositoryRoot + "/sample-data/dicom/ct_head_implicit"
        let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".dcm") }.sorted().map { "\(source)/\($0)" }
        try #require(files.count == 16)
        let port = UInt16.random(in: 40000...60000)
        let listener = StorageListener(aeTitle: "VFTEST", port: port, folder: dir + "/received") { _ in }
        let ended = DispatchSemaphore(value: 0)
        Thread {
            try? listener.run()
            ended.signal()
        }.start()
        defer {
            listener.stop()
            ended.wait()
        }
        try #require(DIMSEStoreTests.waitForPort(port), "the storage SCP did not open port \(port)")

        let client = try DIMSEClient(url: "dimse://VFTEST@127.0.0.1:\(port)", callingAETitle: "VOXELFLOW")
        let log = try PushLog(path: dir + "/pushed.jsonl")
        let records = InstancePush.run(client, files: files, log: log, retries: 1, backoff: 0.05)
        #expect(records.map(\.status) == Array(repeating: .stored, count: 16), "\(records.compactMap(\.reason))")
        #expect(records.allSatisfy { $0.destination == "dimse://VFTEST@127.0.0.1:\(port)" })

        // Filed as STUDY/SERIES/SOP.dcm: one series of 16 instances, the same UIDs, the same voxels and geometry.
        let original = try DICOMSeriesChoice.load(source, selector: nil)
        let study = try FileManager.default.contentsOfDirectory(atPath: dir + "/received").filter { !$0.hasPrefix(".") }
        try #require(study.count == 1)
        let series = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/received/\(study[0])")
        try #require(series.count == 1)
        let folder = "\(dir)/received/\(study[0])/\(series[0])"
        let received = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(Set(received) == Set(records.compactMap(\.sopInstanceUID).map { "\($0).dcm" }))
        let back = try DICOMSeriesChoice.load(folder, selector: nil)
        let a = try original.volume(), b = try back.volume()
        #expect(a.geometry == b.geometry)
        #expect(a.voxels == b.voxels)

        // The record says they are there: nothing is sent again.
        let again = InstancePush.run(client, files: files, log: try PushLog(path: dir + "/pushed.jsonl"), retries: 0)
        #expect(again.map(\.status) == Array(repeating: .skipped, count: 16))
    }

    @Test("C-STORE to a peer that does not answer fails every file with the reason, after the retries")
    func pushToNobody() throws {
        let file = TestPaths.repositoryRoot + "/sample-data/dicom/CT_small.dcm"
        let client = try DIMSEClient(url: "dimse://NOBODY@127.0.0.1:1", callingAETitle: "VOXELFLOW")
        let records = InstancePush.run(client, files: [file], log: nil, retries: 1, backoff: 0.01)
        #expect(records.map(\.status) == [.failed])
        #expect(records[0].reason?.contains("cannot open an association") == true, "\(records[0].reason ?? "")")
        #expect(records[0].reason?.contains("dimse://NOBODY@127.0.0.1:1") == true)
    }

    @Test("C-MOVE settings are checked: AE titles of 1–16 characters, a port above 0")
    func moveSettings() throws {
        var client = try DIMSEClient(url: "dimse://PACS@pacs.example.org", callingAETitle: "VOXELFLOW")
        #expect(client.port == 104 && client.move == nil)
        try client.retrieveByMove(aeTitle: "VFMOVE", port: 11113)
        #expect(client.move?.aeTitle == "VFMOVE" && client.move?.port == 11113)
        #expect(throws: DIMSEError.self) { try client.retrieveByMove(aeTitle: "A_TITLE_LONGER_THAN_16", port: 11113) }
        #expect(throws: DIMSEError.self) { try client.retrieveByMove(aeTitle: "VFMOVE", port: 0) }
    }
}
