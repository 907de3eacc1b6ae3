import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO

/// Series that must never be mixed, series that must be found through links, and the rules that pick the
/// diagnostic series of a study. The archives are built by pydicom from the real sample series
/// (scripts/oracles/make_geometry_cases.py), independently of VoxelFlow.
@Suite("DICOM series: never mix, always account", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct DICOMSeriesSafetyTests {
    static func make(_ kind: String) throws -> String {
        let dir = TestPaths.temporaryDirectory()
        let python = try #require(TestPaths.oraclePython)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/make_geometry_cases.py",
                                TestPaths.sampleData + "/dicom/ct_head_implicit", dir, kind])
        try #require(r.status == 0, "\(r.stderr)")
        return dir
    }

    @Test("one SeriesInstanceUID used by two patients becomes two stacks, each warned about, never one volume")
    func sharedSeriesUIDIsSplit() throws {
        let dir = try Self.make("shared-uid")
        defer { TestPaths.removeTree(dir) }
        let stacks = try DICOMScanner.scan(dir).stacks
        #expect(stacks.count == 2)
        #expect(Set(stacks.map(\.header.patientID)) == ["PATIENT-A", "PATIENT-B"])
        for s in stacks {
            #expect(s.slices.count == 8)
            #expect(Set(s.slices.map(\.header.patientID)).count == 1)
            #expect(s.problems.contains { $0.contains("is shared by 2 patient(s)") }, "\(s.problems)")
        }
    }

    @Test("two 70-character SeriesInstanceUIDs sharing their first 64 characters stay two series")
    func longUIDsAreNotTruncated() throws {
        let dir = try Self.make("long-uid")
        defer { TestPaths.removeTree(dir) }
        let stacks = try DICOMScanner.scan(dir).stacks
        #expect(stacks.count == 2)
        #expect(Set(stacks.map(\.header.seriesInstanceUID.count)) == [70])
        #expect(Set(stacks.map(\.header.seriesInstanceUID)).count == 2)
    }

    @Test("selection rules keep the axial diagnostic series and say why the others were left out")
    func selectionRules() throws {
        let dir = try Self.make("mixed")
        defer { TestPaths.removeTree(dir) }
        let stacks = try DICOMScanner.scan(dir).stacks
        try #require(stacks.count == 3)
        func selected(_ rules: DICOMSeriesSelection) -> [String] {
            rules.apply(stacks).selected.map { stacks[$0].header.seriesDescription }.sorted()
        }
        var r = DICOMSeriesSelection()
        #expect(selected(r) == ["Head 1.5mm", "MPR 3mm", "Scout"])
        r.imageType = ["!LOCALIZER", "!DERIVED"]
        #expect(selected(r) == ["Head 1.5mm"])
        r = DICOMSeriesSelection(); r.imageType = ["original"]
        #expect(selected(r) == ["Head 1.5mm", "Scout"])
        r = DICOMSeriesSelection(); r.planes = [.axial]
        #expect(selected(r) == ["Head 1.5mm", "MPR 3mm"])
        r = DICOMSeriesSelection(); r.planes = [.sagittal]
        #expect(selected(r) == ["Scout"])
        r = DICOMSeriesSelection(); r.slices = 2...1000
        #expect(selected(r) == ["Head 1.5mm", "MPR 3mm"])
        r = DICOMSeriesSelection(); r.sliceThickness = 2...5
        #expect(selected(r) == ["MPR 3mm"])
        r = DICOMSeriesSelection(); r.seriesDescription = "^head"
        #expect(selected(r) == ["Head 1.5mm"])
        // The localizer and the reformat were made from the axial files, so they keep its protocol and body part.
        r = DICOMSeriesSelection(); r.protocolName = "routine"; r.bodyPartExamined = "^HEAD$"
        #expect(selected(r) == ["Head 1.5mm", "MPR 3mm", "Scout"])
        r = DICOMSeriesSelection(); r.bodyPartExamined = "^(CHEST|ABDOMEN)$"
        #expect(selected(r).isEmpty)
        r = DICOMSeriesSelection(); r.modality = "^MR$"
        #expect(selected(r).isEmpty)
        r = DICOMSeriesSelection(); r.bestPerStudy = .mostSlices
        #expect(selected(r) == ["Head 1.5mm"])
        r = DICOMSeriesSelection(); r.bestPerStudy = .thinnest; r.slices = 2...1000
        #expect(selected(r) == ["Head 1.5mm"])
        r = DICOMSeriesSelection(); r.sliceSpacing = 2.5...3.5
        #expect(selected(r) == ["MPR 3mm"])
        // Reasons name the rule and the value.
        r = DICOMSeriesSelection(); r.imageType = ["!LOCALIZER"]; r.bestPerStudy = .mostSlices
        let reasons = r.apply(stacks).rejected.map(\.reason)
        #expect(reasons.contains { $0.contains("contains LOCALIZER") }, "\(reasons)")
        #expect(reasons.contains { $0.contains("bestPerStudy (most-slices)") && $0.contains("Head 1.5mm") }, "\(reasons)")
    }
}

/// Archives made of links, and gaps explained by the file that caused them (no oracle needed).
@Suite("DICOM scan: links and gaps")
struct DICOMScanLinkTests {
    @Test("scan follows symbolic links to files and folders (git-annex, DataLad) and survives a link loop")
    func followsLinks() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let fm = FileManager.default
        let source = TestPaths.sampleData + "/dicom/ct_head_implicit"
        try fm.createDirectory(atPath: root + "/annex/objects", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/archive/patient", withIntermediateDirectories: true)
        for f in try fm.contentsOfDirectory(atPath: source).sorted() {
            try fm.copyItem(atPath: "\(source)/\(f)", toPath: "\(root)/annex/objects/\(f).blob")
            try fm.createSymbolicLink(atPath: "\(root)/archive/patient/\(f)", withDestinationPath: "\(root)/annex/objects/\(f).blob")
        }
        try fm.createSymbolicLink(atPath: root + "/archive/patient/loop", withDestinationPath: root + "/archive")
        try fm.createSymbolicLink(atPath: root + "/archive/dangling.dcm", withDestinationPath: root + "/nowhere")
        try fm.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.sampleData + "/dicom/CT_small.dcm", toPath: root + "/elsewhere/CT_small.dcm")
        try fm.createSymbolicLink(atPath: root + "/archive/linked-folder", withDestinationPath: root + "/elsewhere")
        let scan = try DICOMScanner.scan(root + "/archive")
        #expect(scan.filesScanned == 17, "\(scan.filesScanned)")
        #expect(scan.stacks.map(\.slices.count).sorted() == [1, 16])
        #expect(scan.stacks.flatMap(\.slices).allSatisfy { $0.path.hasPrefix(root + "/archive/") }, "paths are the links, not their targets")
        let direct = try DICOMScanner.scan(source).stacks[0].volume()
        let linked = try #require(scan.stacks.first { $0.slices.count == 16 }).volume()
        #expect(direct.voxels == linked.voxels && direct.geometry == linked.geometry)
    }

    @Test("a gap in a series names the empty or truncated file beside it as the likely cause")
    func gapNamesUnreadableFile() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        let fm = FileManager.default
        let source = TestPaths.sampleData + "/dicom/ct_head_implicit"
        for f in try fm.contentsOfDirectory(atPath: source).sorted() where f != "IM0052.dcm" {
            try fm.copyItem(atPath: "\(source)/\(f)", toPath: "\(root)/\(f)")
        }
        let bytes = try #require(fm.contents(atPath: source + "/IM0052.dcm"))
        fm.createFile(atPath: root + "/IM0052.dcm", contents: bytes.prefix(200))
        let scan = try DICOMScanner.scan(root)
        let stack = try #require(scan.stacks.first)
        #expect(stack.problems.contains { $0.contains("1 missing slice") })
        #expect(stack.irregularity?.contains("IM0052.dcm") == true, "\(stack.irregularity ?? "")")
        let error = #expect(throws: DICOMSeriesError.self) { _ = try stack.volume() }
        #expect(error?.description.contains("IM0052.dcm") == true, "\(String(describing: error))")
    }
}
