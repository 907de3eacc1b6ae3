import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// The scan cache: a re-scan reads only new or changed files, and gives what a scan without it gives.
@Suite("DICOM scan cache")
struct DICOMScanCacheTests {
    static let series = TestPaths.sampleData + "/dicom/ct_head_implicit"

    /// A copy of the sample series (16 files), a CT file and a text file in a new folder.
    static func archive() throws -> String {
        let dir = TestPaths.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/a/b", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: series) where name.hasSuffix(".dcm") {
            try FileManager.default.copyItem(atPath: series + "/" + name, toPath: dir + "/a/b/" + name)
        }
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/dicom/CT_small.dcm", toPath: dir + "/a/ct.dcm")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir + "/a/notes.txt"))
        return dir
    }

    /// What a scan found, comparable: stacks (label, files, positions, problems), non-images and unreadable files.
    static func summary(_ scan: DICOMScan) -> [String] {
        scan.stacks.map { s in
            s.label + " " + s.slices.map { "\($0.path)#\($0.frame)@\($0.position.map { "\($0)" } ?? "-")/\($0.rescale)" }.joined(separator: ",")
                + " " + s.problems.joined(separator: ";") + " \(s.header)"
        } + scan.nonImages.map { "non-image \($0.path) \($0.reason)" } + scan.unreadable.map { "unreadable \($0.path) \($0.reason)" }
    }

    @Test("a re-scan takes unchanged files from the cache and finds exactly what a full scan finds")
    func unchanged() throws {
        let dir = try Self.archive()
        defer { TestPaths.removeTree(dir) }
        let plain = try DICOMScanner.scan(dir)
        var cache = DICOMScanCache()
        let first = try DICOMScanner.scan(dir, cache: &cache)
        #expect(cache.misses == 18 && cache.hits == 0 && cache.count == 18)
        try cache.save(dir + "/cache.json")
        var loaded = try DICOMScanCache.load(dir + "/cache.json")
        try FileManager.default.removeItem(atPath: dir + "/cache.json")
        let second = try DICOMScanner.scan(dir, cache: &loaded)
        #expect(loaded.hits == 18 && loaded.misses == 0)
        #expect(Self.summary(first) == Self.summary(plain))
        #expect(Self.summary(second) == Self.summary(plain))
        // The cached stack decodes to the same volume.
        let a = try #require(plain.stacks.first { $0.slices.count == 16 }).volume()
        let b = try #require(second.stacks.first { $0.slices.count == 16 }).volume()
        #expect(a.voxels == b.voxels && a.geometry == b.geometry)
    }

    @Test("new, changed and deleted files are noticed")
    func changes() throws {
        let dir = try Self.archive()
        defer { TestPaths.removeTree(dir) }
        var cache = DICOMScanCache()
        _ = try DICOMScanner.scan(dir, cache: &cache)
        // Changed: a slice replaced by text (same name). New: a copy of the CT elsewhere. Deleted: the notes.
        try Data("no longer an image".utf8).write(to: URL(fileURLWithPath: dir + "/a/b/IM0050.dcm"))
        try FileManager.default.createDirectory(atPath: dir + "/c", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/dicom/CT_small.dcm", toPath: dir + "/c/new.dcm")
        try FileManager.default.removeItem(atPath: dir + "/a/notes.txt")
        let rescan = try DICOMScanner.scan(dir, cache: &cache)
        #expect(cache.misses == 2 && cache.hits == 16, "\(cache.misses) read, \(cache.hits) cached")
        #expect(cache.count == 18)
        #expect(Self.summary(rescan) == Self.summary(try DICOMScanner.scan(dir)))
        #expect(rescan.unreadable.map(\.path) == [dir + "/a/b/IM0050.dcm"])
    }

    @Test("a file that is not a cache is refused, never overwritten")
    func notACache() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try Data("{\"something\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/mine.json"))
        #expect(throws: DICOMError.self) { try DICOMScanCache.load(dir + "/mine.json") }
        #expect(try DICOMScanCache.load(dir + "/absent.json").count == 0)
        let r = Subprocess.run([TestPaths.voxelflowExecutable, "scan", Self.series, "--cache", dir + "/mine.json"])
        #expect(r.status != 0 && r.stderr.contains("not a VoxelFlow scan cache"), "\(r.stderr)")
        #expect(try String(contentsOfFile: dir + "/mine.json", encoding: .utf8) == "{\"something\": 1}")
        let ok = Subprocess.run([TestPaths.voxelflowExecutable, "scan", Self.series, "--cache", dir + "/index.json", "--json"])
        #expect(ok.status == 0 && ok.stderr.contains("16 file(s) read"), "\(ok.stderr)")
        let again = Subprocess.run([TestPaths.voxelflowExecutable, "scan", Self.series, "--cache", dir + "/index.json", "--json"])
        #expect(again.stderr.contains("0 file(s) read, 16 unchanged"), "\(again.stderr)")
        #expect(again.stdout == ok.stdout)
    }
}
