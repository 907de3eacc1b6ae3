import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

@Suite("De-identification of files and archives: no identifier survives, references stay consistent, nothing is overwritten")
struct DeidentificationArchiveTests {
    @Test("no planted identifier survives anywhere in the output bytes, and the pixels are unchanged")
    func plantedIdentifiersAreGone() throws {
        let input = try DeidFixtures.plantedInput()
        let output = TestPaths.temporaryDirectory("deid-out")
        defer { TestPaths.removeTree(input); TestPaths.removeTree(output) }
        let result = try ArchiveDeidentification.run(input: input, output: output, deidentifier: DeidFixtures.deidentifier())
        #expect(result.report.written == 1 && result.report.failed == 0)
        let outputs = DeidFixtures.files(output)
        #expect(outputs.count == 2)  // the instance and deidentification.json
        let bytes = outputs.flatMap(DeidFixtures.bytes)
        let planted = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: DeidFixtures.folder + "/identifiers.json"))) as? [String: Any]
        let values = try #require(planted?["planted"] as? [[String: Any]])
        let searchable = values.filter { $0["searchable"] as? Bool == true }.compactMap { $0["value"] as? String }
        #expect(searchable.count > 550)
        let survivors = searchable.filter { bytes.firstRange(of: Array($0.utf8)) != nil }
        #expect(survivors.isEmpty, "survived: \(survivors.prefix(10))")
        // The image is the same image.
        let instance = try #require(outputs.first { $0.hasSuffix(".dcm") })
        let before = try DICOMScanner.scan(DeidFixtures.folder + "/identifiers.dcm").stacks.first?.volume()
        let after = try DICOMScanner.scan(instance).stacks.first?.volume()
        #expect(before != nil && before?.voxels == after?.voxels && before?.geometry.affine == after?.geometry.affine)
        // Its new identity is the keyed one.
        let key = try DeidFixtures.key
        #expect(instance.hasSuffix("/\(key.uid(for: "1.2.826.0.1.3680043.10.999.90002"))/\(key.uid(for: "1.2.826.0.1.3680043.10.999.90003"))/\(key.uid(for: "1.2.826.0.1.3680043.10.999.90001")).dcm"))
        let header = try DICOMHeader.read(instance)
        #expect(header.patientID == key.pseudonym(for: "PLANTED-MRN-4711"))
        #expect(header.frameOfReferenceUID == key.uid(for: "1.2.826.0.1.3680043.10.999.90004"))
    }

    @Test("the same key gives byte-identical output; another key gives other UIDs")
    func reproducible() throws {
        let input = try DeidFixtures.plantedInput()
        let a = TestPaths.temporaryDirectory("deid-a"), b = TestPaths.temporaryDirectory("deid-b"), c = TestPaths.temporaryDirectory("deid-c")
        defer { [input, a, b, c].forEach(TestPaths.removeTree) }
        for folder in [a, b] {
            _ = try ArchiveDeidentification.run(input: input, output: folder, deidentifier: DeidFixtures.deidentifier(DeidentificationProfile(options: [.shiftDates])))
            _ = try ArchiveDeidentification.run(input: DeidFixtures.series, output: folder + "/series", deidentifier: DeidFixtures.deidentifier(DeidentificationProfile(options: [.shiftDates])))
        }
        let filesA = DeidFixtures.files(a), filesB = DeidFixtures.files(b)
        #expect(filesA.count == 1 + 1 + 16 + 1)
        #expect(filesA.map { $0.dropFirst(a.count) } == filesB.map { $0.dropFirst(b.count) })
        for (x, y) in zip(filesA, filesB) { #expect(DeidFixtures.bytes(x) == DeidFixtures.bytes(y), "\(x) differs") }
        let other = DICOMDeidentifier(profile: DeidentificationProfile(options: [.shiftDates]), key: try DeidentificationKey(text: "a-different-secret-key-0123456789"))
        _ = try ArchiveDeidentification.run(input: input, output: c, deidentifier: other)
        let namesC = Set(DeidFixtures.files(c).map { $0.dropFirst(c.count) })
        #expect(namesC.isDisjoint(with: filesA.filter { $0.hasSuffix(".dcm") }.map { $0.dropFirst(a.count) }))
    }

    @Test("a SEG de-identified in another run with the same key still segments the de-identified series")
    func segReferencesStayConsistent() throws {
        let work = TestPaths.temporaryDirectory("deid-seg")
        defer { TestPaths.removeTree(work) }
        let stack = try #require(DICOMScanner.scan(DeidFixtures.series).stacks.first)
        let volume = try stack.volume()
        var labels = [UInt8](repeating: 0, count: volume.voxels.count)
        for i in 0..<labels.count where volume.scaling.apply(volume.voxels.value(at: i)) > 300 { labels[i] = 1 }
        let map = try LabelMap(Volume(geometry: volume.geometry, voxels: .uint8(labels)))
        try FileManager.default.createDirectory(atPath: work + "/seg-in", withIntermediateDirectories: true)
        try DICOMSegmentation.write(map, reference: stack, to: work + "/seg-in/seg.dcm")
        let deidentifier = try DeidFixtures.deidentifier()
        _ = try ArchiveDeidentification.run(input: DeidFixtures.series, output: work + "/series", deidentifier: deidentifier)
        _ = try ArchiveDeidentification.run(input: work + "/seg-in", output: work + "/seg", deidentifier: deidentifier)
        let newStack = try #require(DICOMScanner.scan(work + "/series").stacks.first)
        #expect(newStack.header.seriesInstanceUID == deidentifier.uid(stack.header.seriesInstanceUID))
        let segPath = try #require(DeidFixtures.files(work + "/seg").first { $0.hasSuffix(".dcm") })
        // Read against the de-identified series: the frame of reference and the source references must agree.
        let seg = try DICOMSegmentation.read(segPath, reference: newStack)
        #expect(seg.referencedSeriesUID == newStack.header.seriesInstanceUID)
        #expect(seg.frameOfReferenceUID == newStack.header.frameOfReferenceUID)
        #expect((0..<labels.count).allSatisfy { Int(seg.labels.volume.voxels.value(at: $0)) == Int(labels[$0]) })
    }

    @Test("the input is never changed, an existing output is never overwritten, and the output may not lie inside the input")
    func safety() throws {
        let input = try DeidFixtures.plantedInput()
        let output = TestPaths.temporaryDirectory("deid-safe")
        defer { TestPaths.removeTree(input); TestPaths.removeTree(output) }
        let original = DeidFixtures.bytes(input + "/identifiers.dcm")
        #expect(throws: DeidentificationError.self) {
            try ArchiveDeidentification.run(input: input, output: input + "/out", deidentifier: DeidFixtures.deidentifier())
        }
        let first = try ArchiveDeidentification.run(input: input, output: output, deidentifier: DeidFixtures.deidentifier())
        #expect(first.report.written == 1)
        // A second run into the same folder is refused (the report exists) unless asked to replace.
        #expect(throws: DeidentificationError.self) {
            try ArchiveDeidentification.run(input: input, output: output, deidentifier: DeidFixtures.deidentifier())
        }
        // A file the user put where an output goes is left alone: that input fails instead.
        let instance = try #require(DeidFixtures.files(output).first { $0.hasSuffix(".dcm") })
        try Data("user's file".utf8).write(to: URL(fileURLWithPath: instance))
        let outcome = try DeidFixtures.deidentifier().deidentify(input + "/identifiers.dcm", into: output)
        guard case .failed(let reason) = outcome else { Issue.record("expected a failure, got \(outcome)"); return }
        #expect(reason.contains("already exists"))
        #expect(String(decoding: DeidFixtures.bytes(instance), as: UTF8.self) == "user's file")
        // With replace, it is written.
        let again = try ArchiveDeidentification.run(input: input, output: output, deidentifier: DeidFixtures.deidentifier(), replace: true)
        #expect(again.report.written == 1)
        #expect(DeidFixtures.bytes(input + "/identifiers.dcm") == original)
        #expect(!DeidFixtures.files(output).contains { AtomicFile.isLeftover(($0 as NSString).lastPathComponent) })
    }

    @Test("the shared corpus: every DICOM instance is written once, held back, skipped or failed with a reason; none crashes")
    func corpus() throws {
        try #require(TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing))
        let output = TestPaths.temporaryDirectory("deid-corpus")
        defer { TestPaths.removeTree(output) }
        let result = try ArchiveDeidentification.run(input: TestPaths.sharedData + "/dicom", output: output, deidentifier: DeidFixtures.deidentifier())
        let r = result.report
        #expect(r.filesFound == r.written + r.heldBack + r.skipped + r.duplicates + r.failed)
        #expect(r.written > 500)
        #expect(r.heldBack > 0 && r.heldBackReasons.keys.allSatisfy { $0.contains("burned") || $0.contains("ultrasound") || $0.contains("Secondary Capture") || $0.contains("modality") || $0.contains("document") })
        // Failures are files that cannot be read or are not complete instances, never a de-identification error.
        for reason in r.failureReasons.keys {
            #expect(reason.hasPrefix("cannot read the file") || reason.hasPrefix("the file has no"), "\(reason)")
        }
        #expect(DeidFixtures.files(output).filter { $0.hasSuffix(".dcm") }.count == r.written)
        // The malformed files that once crashed a reader are refused or written, one by one.
        let malformed = TestPaths.sharedData + "/malformed-found"
        if TestPaths.exists(malformed) {
            let out2 = TestPaths.temporaryDirectory("deid-malformed")
            defer { TestPaths.removeTree(out2) }
            let m = try ArchiveDeidentification.run(input: malformed, output: out2, deidentifier: DeidFixtures.deidentifier())
            #expect(m.report.filesFound == m.report.written + m.report.heldBack + m.report.skipped + m.report.duplicates + m.report.failed)
        }
    }

    /// Runs the independent checker (pydicom, Python's hmac, dicom-anonymizer) on a de-identified folder.
    static func oracleCheck(input: String, output: String) throws -> (files: Int, attributes: Int, anonymizer: Int, problems: [String]) {
        let python = try #require(TestPaths.oraclePython)
        let keyFolder = TestPaths.temporaryDirectory("deid-key")
        defer { TestPaths.removeTree(keyFolder) }
        let keyFile = keyFolder + "/key.txt"
        try DeidFixtures.keyText.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/check_deidentification.py", input, output, keyFile,
                                DeidFixtures.folder + "/annex-e-table.tsv"], timeout: 900)
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let problems = ((json["mismatches"] as? [String]) ?? []) + ((json["survivors"] as? [String]) ?? [])
        return (json["files"] as? Int ?? 0, json["attributes"] as? Int ?? 0, json["comparedWithDicomAnonymizer"] as? Int ?? 0, problems)
    }

    static var oracleReady: Bool {
        guard let python = TestPaths.oraclePython else { return false }
        return Subprocess.run([python, "-c", "import pydicom, dicomanonymizer"]).status == 0
    }

    @Test("pydicom and dicom-anonymizer agree attribute by attribute on the planted file and the sample series", .enabled(if: oracleReady, "pydicom/dicom-anonymizer oracle venv absent (run scripts/setup-oracles.sh)"))
    func oracleOnFixtures() throws {
        let planted = try DeidFixtures.plantedInput()
        defer { TestPaths.removeTree(planted) }
        for input in [planted, DeidFixtures.series] {
            let output = TestPaths.temporaryDirectory("deid-oracle")
            defer { TestPaths.removeTree(output) }
            _ = try ArchiveDeidentification.run(input: input, output: output, deidentifier: DeidFixtures.deidentifier())
            let check = try Self.oracleCheck(input: input, output: output)
            #expect(check.files >= 1 && check.attributes > 50 && check.anonymizer == check.files)
            #expect(check.problems.isEmpty, "\(check.problems.prefix(20))")
        }
    }

    @Test("pydicom and dicom-anonymizer agree attribute by attribute on the whole shared corpus", .enabled(if: oracleReady && TestPaths.sharedDataAvailable, "needs the shared corpus and the oracle venv"))
    func oracleOnCorpus() throws {
        let output = TestPaths.temporaryDirectory("deid-oracle-corpus")
        defer { TestPaths.removeTree(output) }
        _ = try ArchiveDeidentification.run(input: TestPaths.sharedData + "/dicom", output: output, deidentifier: DeidFixtures.deidentifier())
        let check = try Self.oracleCheck(input: TestPaths.sharedData + "/dicom", output: output)
        #expect(check.files > 500 && check.attributes > 30000 && check.anonymizer > 500)
        #expect(check.problems.isEmpty, "\(check.problems.prefix(20))")
    }
}
