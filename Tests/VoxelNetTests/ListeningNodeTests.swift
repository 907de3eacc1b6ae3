import Foundation
import Testing
import TestSupport
import VoxelCatalog
import VoxelIO
@testable import PACSPlugin
import VoxelNet
import VoxelPipeline

/// `voxelflow listen` on loopback, fed by VoxelFlow's own C-STORE client (scripts/listen_e2e.sh sends with
/// DCMTK's storescu and pushes the results to Orthanc).
@Suite("Listening node")
struct ListeningNodeTests {
    /// Polls `condition` every 0.1 s for at most `seconds`.
    static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition()
    }

    static func manifestLines(_ output: String) -> [String] {
        ((try? String(contentsOfFile: output + "/results/manifest.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("an instance that arrives after its series was processed joins the archive and the case runs again on the whole series; refused files stay where they are")
    func lateInstanceRunsTheCaseAgain() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let source = TestPaths.repositoryRoot + "/sample-data/dicom/ct_head_implicit"
        let original = try DICOMSeriesChoice.load(source, selector: nil)
        let files = original.slices.map(\.path)
        try #require(files.count == 16)
        let output = dir + "/node"
        // Something the listener refused earlier: it must stay in receiving/rejected/, never reach the archive.
        try FileManager.default.createDirectory(atPath: output + "/receiving/rejected", withIntermediateDirectories: true)
        try Data("not DICOM".utf8).write(to: URL(fileURLWithPath: output + "/receiving/rejected/refused.dcm"))

        let spec = try PipelineValidator(registry: StageCatalog.registry).load(TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json")
        let port = UInt16.random(in: 40000...60000)
        var options = ListeningNode.Options(output: output)
        options.aeTitle = "VFNODE"
        options.port = port
        options.quietSeconds = 0.5
        options.jobs = 1
        let lines = LineCollector()
        let node = ListeningNode(spec: spec, registry: StageCatalog.registry, options: options) { lines.add($0) }
        let ended = DispatchSemaphore(value: 0)
        Thread {
            do { try node.run() } catch { lines.add("node failed: \(error)") }
            ended.signal()
        }.start()
        defer {
            node.stop()
            ended.wait()
        }
        try #require(DIMSEStoreTests.waitForPort(port), "the node did not open port \(port)")
        let client = try DIMSEClient(url: "dimse://VFNODE@127.0.0.1:\(port)", callingAETitle: "MODALITY")

        // 15 of the 16 slices: the case runs on them.
        let first = InstancePush.run(client, files: Array(files.dropLast()), log: nil, retries: 1, backoff: 0.05)
        #expect(first.allSatisfy { $0.status == .stored }, "\(first.compactMap(\.reason))")
        try #require(Self.wait(seconds: 60) { Self.manifestLines(output).count == 1 }, "\(lines.all)")
        let caseFolder = try #require(try FileManager.default.contentsOfDirectory(atPath: output + "/results/cases").first)
        let nifti = "\(output)/results/cases/\(caseFolder)/\(caseFolder).nii.gz"
        #expect(try NIfTI.read(nifti).volume.geometry.size.z == 15)

        // The last slice arrives late: it joins the archived series and the case runs again on all 16.
        let late = InstancePush.run(client, files: [files[15]], log: nil, retries: 1, backoff: 0.05)
        #expect(late.map(\.status) == [.stored])
        let grown = Self.wait(seconds: 60) { ((try? NIfTI.read(nifti).volume.geometry.size.z) ?? 0) == 16 }
        #expect(grown, "\(lines.all)")
        #expect(lines.all.contains { $0.contains("its case runs again") })
        let volume = try NIfTI.read(nifti).volume, expected = try original.volume()
        #expect(volume.geometry.affine.maxAbsDifference(to: expected.geometry.affine) < 1e-4)
        #expect(volume.physicalFloats() == expected.physicalFloats())
        // One manifest line for the case (the earlier one replaced), and the mark is gone once it ran.
        #expect(Self.wait(seconds: 10) { ((try? FileManager.default.contentsOfDirectory(atPath: output + "/late")) ?? ["?"]).isEmpty })
        let manifest = Self.manifestLines(output)
        #expect(manifest.count == 1 && manifest[0].contains("\"ok\""), "\(manifest)")

        #expect(FileManager.default.fileExists(atPath: output + "/receiving/rejected/refused.dcm"))
        #expect(!FileManager.default.fileExists(atPath: output + "/archive/rejected"))
    }
}
