import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// DICOMDIR indexes: pydicom's test media (shared corpus) and one written by DCMTK's dcmmkdir.
@Suite("DICOMDIR index")
struct DICOMDirectoryTests {
    static let media = TestPaths.sharedData + "/dicom/dicomdir"

    static func copy(_ source: String) throws -> String {
        let dir = TestPaths.temporaryDirectory()
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: source, toPath: dir)
        return dir
    }

    static func summary(_ scan: DICOMScan) -> [String] {
        scan.stacks.map { "\($0.header.seriesInstanceUID) \($0.slices.map(\.path).sorted())" }.sorted()
    }

    @Test("the index's files give the stacks a walk gives; lower-case copies still resolve; a missing file falls back to walking",
          .enabled(if: TestPaths.exists(media), Comment(rawValue: TestPaths.sharedDataMissing)))
    func indexOrWalk() throws {
        // pydicom's test media: a DICOMDIR over three patients' tiny CT, CR and MR series, beside other
        // DICOMDIR variants and a second media tree (TINY_ALPHA) that the index does not list.
        let dir = try Self.copy(Self.media)
        defer { TestPaths.removeTree(dir) }
        let listed = try DICOMDirectory.referencedFiles(dir + "/DICOMDIR")
        #expect(listed.found.count == 31 && listed.missing.isEmpty)
        let indexed = try DICOMScanner.scan(dir)
        #expect(indexed.index?.contains("files from the index") == true, "\(indexed.index ?? "nil")")
        #expect(indexed.filesScanned == 31 && indexed.unreadable.isEmpty && indexed.nonImages.isEmpty)
        let walked = try DICOMScanner.scan(dir, useIndex: false)
        #expect(walked.index?.contains("not used") == true)
        #expect(walked.filesScanned > 31)
        #expect(indexed.stacks.count == 24)
        #expect(Self.summary(indexed) == Self.summary(walked))

        // Media copied with lower-case names: the references still resolve, component by component.
        let lower = try Self.copy(Self.media)
        defer { TestPaths.removeTree(lower) }
        try FileManager.default.moveItem(atPath: lower + "/98892003/MR700", toPath: lower + "/98892003/mr700")
        let lowered = try DICOMScanner.scan(lower)
        #expect(lowered.filesScanned == 31 && lowered.stacks.count == 24, "\(lowered.index ?? "nil")")

        // A referenced file that is gone: the folder is walked and the note says why.
        let first = try #require(listed.found.first)
        try FileManager.default.removeItem(atPath: first)
        let fallback = try DICOMScanner.scan(dir)
        #expect(fallback.index?.contains("missing") == true && fallback.index?.contains("walked") == true, "\(fallback.index ?? "nil")")
        #expect(fallback.filesScanned == walked.filesScanned - 1)
    }

    @Test("a DICOMDIR written by dcmmkdir over the sample series lists its 16 files; a broken one is walked past")
    func dcmmkdirIndex() throws {
        guard let dcmmkdir = ["/usr/bin/dcmmkdir", "/usr/local/bin/dcmmkdir"].first(where: TestPaths.exists) else {
            return  // dcmtk's tools come with scripts/install-deps.sh --test
        }
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let source = TestPaths.sampleData + "/dicom/ct_head_implicit"
        try FileManager.default.createDirectory(atPath: dir + "/CT", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where name.hasSuffix(".dcm") {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/CT/" + String(name.dropLast(4)))
        }
        let r = Subprocess.run([dcmmkdir, "--recurse", "--invent", "--no-xfer-check", "--output-file", dir + "/DICOMDIR", "--input-directory", dir, "CT"])
        try #require(r.status == 0, "\(r.stderr)")
        try Data("stray file the index does not list".utf8).write(to: URL(fileURLWithPath: dir + "/README.TXT"))
        let scan = try DICOMScanner.scan(dir)
        #expect(scan.filesScanned == 16 && scan.unreadable.isEmpty, "\(scan.index ?? "nil")")
        #expect(scan.stacks.count == 1 && scan.stacks.first?.slices.count == 16)
        let plain = try DICOMScanner.scan(source)
        let a = try #require(scan.stacks.first).volume(), b = try #require(plain.stacks.first).volume()
        #expect(a.voxels == b.voxels && a.geometry == b.geometry)

        try Data("not a dicomdir".utf8).write(to: URL(fileURLWithPath: dir + "/DICOMDIR"))
        let walked = try DICOMScanner.scan(dir)
        #expect(walked.index?.contains("unreadable") == true, "\(walked.index ?? "nil")")
        #expect(walked.stacks.first?.slices.count == 16 && walked.unreadable.count == 2)
    }
}
