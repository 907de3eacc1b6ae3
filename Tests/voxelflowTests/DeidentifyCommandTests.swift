import Foundation
import Testing
import TestSupport
import VoxelIO

/// `voxelflow deidentify` as a user runs it: keys, pseudonym maps, held-back files and refusals.
@Suite("voxelflow deidentify")
struct DeidentifyCommandTests {
    static let series = TestPaths.sampleData + "/dicom/ct_head_implicit"

    static func keyFile(_ dir: String) throws -> String {
        let path = dir + "/key.txt"
        try "this-is-a-secret-key-for-tests!!\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a series with a key and a pseudonym map: the chosen pseudonym, a report without identifiers, the map written back")
    func keyAndMap() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let header = try DICOMHeader.read(try #require(DeidFixturesCLI.firstFile(Self.series)))
        try "patient_id,pseudonym\n\(header.patientID),STUDY-0042\n".write(toFile: dir + "/map.csv", atomically: true, encoding: .utf8)
        let r = CLITests.run("deidentify", Self.series, dir + "/out", "--key-file", try Self.keyFile(dir), "--map", dir + "/map.csv",
                             "--write-map", dir + "/used.csv", "--profile", "basic,shift-dates")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("de-identified 16 of 16 files") && r.stdout.contains("profile basic,shift-dates"))
        #expect(!r.stderr.contains("warning"))
        let out = try #require(DICOMScanner.scan(dir + "/out").stacks.first)
        #expect(out.slices.count == 16 && out.header.patientID == "STUDY-0042")
        let report = try String(contentsOfFile: dir + "/out/deidentification.json", encoding: .utf8)
        #expect(report.contains("\"written\" : 16") && !report.contains(header.patientID) && !report.contains(Self.series))
        #expect(try String(contentsOfFile: dir + "/used.csv", encoding: .utf8) == "patient_id,pseudonym\n\(header.patientID),STUDY-0042\n")
    }

    @Test("without a key, a random key is used and the user is warned")
    func randomKey() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let a = CLITests.run("deidentify", Self.series, dir + "/a", "-q")
        let b = CLITests.run("deidentify", Self.series, dir + "/b", "-q")
        #expect(a.status == 0 && b.status == 0)
        #expect(a.stderr.contains("random key"))
        let studiesA = try FileManager.default.contentsOfDirectory(atPath: dir + "/a").filter { $0.hasPrefix("2.25.") }
        let studiesB = try FileManager.default.contentsOfDirectory(atPath: dir + "/b").filter { $0.hasPrefix("2.25.") }
        #expect(studiesA.count == 1 && studiesB.count == 1 && studiesA != studiesB)
    }

    @Test("refusals: unknown profile (exit 2), output inside the input (exit 3), a second run without --force (exit 3)")
    func refusals() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let key = try Self.keyFile(dir)
        let bad = CLITests.run("deidentify", Self.series, dir + "/out", "--key-file", key, "--profile", "basic,keep-all")
        #expect(bad.status == 2 && bad.stderr.contains("unknown profile option 'keep-all'"))
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let inside = CLITests.run("deidentify", dir, dir + "/in/out", "--key-file", key)
        #expect(inside.status == 3 && inside.stderr.contains("lies inside the input"))
        #expect(CLITests.run("deidentify", Self.series, dir + "/out", "--key-file", key, "-q").status == 0)
        let again = CLITests.run("deidentify", Self.series, dir + "/out", "--key-file", key, "-q")
        #expect(again.status == 3 && again.stderr.contains("--force"))
        #expect(CLITests.run("deidentify", Self.series, dir + "/out", "--key-file", key, "-q", "--force").status == 0)
        let short = CLITests.run("deidentify", Self.series, dir + "/out2", "--key-file", dir + "/missing.txt")
        #expect(short.status == 2 && short.stderr.contains("cannot read the key file"))
    }

    @Test("an ultrasound file is held back and named on standard error; --include-burned-in writes it")
    func heldBack() throws {
        try #require(TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing))
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let us = TestPaths.sharedData + "/dicom/vendor/octave_US-PAL-8-10x-echo.dcm"
        try #require(TestPaths.exists(us))
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: us, toPath: dir + "/in/us.dcm")
        let key = try Self.keyFile(dir)
        let held = CLITests.run("deidentify", dir + "/in", dir + "/out", "--key-file", key)
        #expect(held.status == 0 && held.stdout.contains("1 held back") && held.stderr.contains("held back \(dir)/in/us.dcm"))
        let written = CLITests.run("deidentify", dir + "/in", dir + "/out2", "--key-file", key, "--include-burned-in")
        #expect(written.status == 0 && written.stdout.contains("de-identified 1 of 1"))
    }
}

enum DeidFixturesCLI {
    static func firstFile(_ folder: String) -> String? {
        (try? FileManager.default.contentsOfDirectory(atPath: folder))?.sorted().first.map { folder + "/" + $0 }
    }
}

/// `--deidentify` on the DICOM writers: the SEG, RTSTRUCT and overlay written from the identified series
/// reference the copy `voxelflow deidentify` makes of it with the same key, and carry no original identifier.
@Suite("voxelflow export-* --deidentify")
struct ExportDeidentificationTests {
    static let series = TestPaths.sampleData + "/dicom/ct_head_implicit"

    @Test("SEG, RTSTRUCT and overlay written with --deidentify reference the de-identified series; no key, no output")
    func exportsReferenceDeidentifiedSeries() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let key = try DeidentifyCommandTests.keyFile(dir)
        let mask = try CLIExportSegTests.boneMask(in: dir)
        #expect(CLITests.run("deidentify", Self.series, dir + "/deid", "--key-file", key, "-q").status == 0)
        let copy = try #require(try DICOMScanner.scan(dir + "/deid").stacks.first)
        let copyUIDs = Set(copy.slices.map(\.header.sopInstanceUID))
        let original = try #require(try DICOMScanner.scan(Self.series).stacks.first).header

        let seg = CLITests.run("export-seg", mask, "--reference", Self.series, "-o", dir + "/seg.dcm", "--deidentify", "basic", "--deid-key-file", key)
        #expect(seg.status == 0 && seg.stdout.contains("de-identified"), "\(seg.stderr)")
        let rt = CLITests.run("export-rtstruct", mask, "--reference", Self.series, "-o", dir + "/rt.dcm", "--deidentify", "basic", "--deid-key-file", key)
        #expect(rt.status == 0, "\(rt.stderr)")
        let overlay = CLITests.run("export-overlay", mask, "--reference", Self.series, "-o", dir + "/overlay", "--deidentify", "basic", "--deid-key-file", key)
        #expect(overlay.status == 0, "\(overlay.stderr)")

        for file in [dir + "/seg.dcm", dir + "/rt.dcm"] {
            let header = try DICOMHeader.read(file)
            #expect(header.studyInstanceUID == copy.header.studyInstanceUID, "\(file)")
            #expect(header.patientID == copy.header.patientID && header.patientID != original.patientID)
            #expect(header.frameOfReferenceUID == copy.header.frameOfReferenceUID)
            // Every SOP instance the object references is one of the de-identified copies, none an original.
            let bytes = try String(decoding: Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self)
            #expect(copyUIDs.contains { bytes.contains($0) }, "\(file) references none of the de-identified instances")
            #expect(!bytes.contains(original.sopInstanceUID) && !bytes.contains(original.studyInstanceUID) && !bytes.contains(original.patientID))
        }
        let overlays = try FileManager.default.contentsOfDirectory(atPath: dir + "/overlay").filter { $0.hasSuffix(".dcm") }
        #expect(overlays.count == 16)
        for name in overlays {
            let header = try DICOMHeader.read(dir + "/overlay/" + name)
            #expect(header.studyInstanceUID == copy.header.studyInstanceUID && header.patientID == copy.header.patientID)
        }

        // No key: refused before anything is written.
        let noKey = Subprocess.run([TestPaths.voxelflowExecutable, "export-seg", mask, "--reference", Self.series, "-o", dir + "/seg2.dcm",
                                    "--deidentify", "basic"], environment: ["VOXELFLOW_DEID_KEY": nil])
        #expect(noKey.status != 0 && noKey.stderr.contains("needs a key"), "\(noKey.stderr)")
        #expect(!TestPaths.exists(dir + "/seg2.dcm"))
        let badProfile = CLITests.run("export-rtstruct", mask, "--reference", Self.series, "-o", dir + "/rt2.dcm", "--deidentify", "basic,keep-all", "--deid-key-file", key)
        #expect(badProfile.status != 0 && badProfile.stderr.contains("keep-all"))
        #expect(!TestPaths.exists(dir + "/rt2.dcm"))
    }
}

