import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
@testable import VoxelPipeline
import VoxelSupport

/// The full demonstration pipeline (DICOM series → CNN → NIfTI, SEG, RTSTRUCT, HTML and JSON reports) and
/// the batch pages, through the command line.
@Suite("HTML reports, the batch index and the full demonstration pipeline")
struct HTMLReportTests {
    static let caseID = "INV3-CRANIUM_CT1"

    /// Runs pipelines/ct-head-report.json over sample-data/dicom into `out`/r.
    static func run(_ out: String) throws -> String {
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/ct-head-report.json", "-i", TestPaths.sampleData + "/dicom", "-o", out + "/r", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        return out + "/r"
    }

    /// `data-NAME="…"` values of the structure rows of an HTML page, by label.
    static func dataAttributes(_ html: String, _ name: String) -> [Int: String] {
        var out: [Int: String] = [:]
        for row in html.components(separatedBy: "<tr data-label=\"").dropFirst() {
            guard let label = Int(row.prefix { $0 != "\"" }), let start = row.range(of: "data-\(name)=\"") else { continue }
            out[label] = String(row[start.upperBound...].prefix { $0 != "\"" })
        }
        return out
    }

    @Test("the report's numbers are the JSON report's, the batch summary's, and the label map's; the SEG and the RTSTRUCT read back to the label map")
    func demoPipeline() throws {
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let run = try Self.run(out)
        let caseDir = run + "/cases/" + Self.caseID
        for f in ["tissue.nii.gz", "tissue_seg.dcm", "tissue_rtstruct.dcm", "report.html", "report.json", "thumbnail.png", "structures.csv"] {
            #expect(TestPaths.exists(caseDir + "/" + f), "\(f) missing")
        }
        let labels = try LabelMap(NIfTI.read(caseDir + "/tissue.nii.gz").volume)
        let report = try JSONParser.parse(String(contentsOfFile: caseDir + "/report.json", encoding: .utf8))
        guard case .array(let structures)? = report.member("results")?.value.member("html")?.value.member("structures")?.value.value else {
            Issue.record("the JSON report has no html section"); return
        }
        #expect(structures.map { $0.member("name")?.value.string } == ["Soft tissue", "Bone"])
        let html = try String(contentsOfFile: caseDir + "/report.html", encoding: .utf8)
        let volumes = Self.dataAttributes(html, "volume-ml"), voxels = Self.dataAttributes(html, "voxels")
        let spacing = labels.geometry.spacing
        for s in structures {
            let value = try #require(s.member("value")?.value.json.doubleValue.map(Int.init))
            let jsonVolume = try #require(s.member("volumeML")?.value.json.doubleValue)
            let jsonVoxels = try #require(s.member("voxels")?.value.json.doubleValue.map(Int.init))
            #expect(volumes[value] == JSON.format(jsonVolume))
            #expect(voxels[value] == String(jsonVoxels))
            // And the label map itself.
            let count = (0..<labels.volume.voxels.count).filter { Int(labels.volume.voxels.value(at: $0)) == value }.count
            #expect(count == jsonVoxels)
            // The file's spacing is float32 (NIfTI), the report's comes from the DICOM grid in double: they agree to
            // float32 precision, about 1e-7 of the volume.
            #expect(abs(Double(count) * spacing.x * spacing.y * spacing.z / 1000 - jsonVolume) < max(1e-5, 2e-7 * jsonVolume))
        }
        // Three pictures per structure, each a PNG with orientation letters and a scale bar.
        #expect(html.components(separatedBy: "data:image/png;base64,").count - 1 == 3 * structures.count)
        #expect(html.contains("<span class=\"o left\">R</span>") && html.contains("mm</span>"))
        // summary.csv holds the same rows as the case's structures.csv, with the case in front.
        let summary = try String(contentsOfFile: run + "/summary.csv", encoding: .utf8).split(separator: "\n")
        let table = try String(contentsOfFile: caseDir + "/structures.csv", encoding: .utf8).split(separator: "\n")
        #expect(Array(summary.dropFirst()) == table.dropFirst().map { Substring("\(Self.caseID),\($0)") })
        let index = try String(contentsOfFile: run + "/index.html", encoding: .utf8)
        #expect(index.contains("href=\"cases/\(Self.caseID)/report.html\"") && index.contains("src=\"cases/\(Self.caseID)/thumbnail.png\""))
        // The SEG and the RTSTRUCT give the label map back (segment and ROI n = n-th label present).
        let stack = try #require(DICOMScanner.scan(TestPaths.sampleData + "/dicom/ct_head_implicit").stacks.first)
        let seg = try DICOMSegmentation.read(caseDir + "/tissue_seg.dcm", reference: stack)
        let rt = try DICOMRTStruct.read(caseDir + "/tissue_rtstruct.dcm", reference: stack)
        let values = (0..<labels.volume.voxels.count).map { Int(labels.volume.voxels.value(at: $0)) }
        let present = labels.labelsPresent().filter { $0 > 0 }
        let ranked = values.map { v in v == 0 ? 0 : (present.firstIndex(of: v) ?? -1) + 1 }
        #expect((0..<seg.labels.volume.voxels.count).map { Int(seg.labels.volume.voxels.value(at: $0)) } == ranked)
        #expect((0..<rt.labels.volume.voxels.count).map { Int(rt.labels.volume.voxels.value(at: $0)) } == ranked)
        #expect(seg.table.labels.map(\.name) == ["Soft tissue", "Bone"] && rt.table.labels.map(\.name) == ["Soft tissue", "Bone"])
    }

    @Test("a failed case is listed in index.html with its reason, and --force removes the batch pages with the run")
    func failedCaseInIndex() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        // The sample series and a copy of it with one slice cut short: that case fails.
        let archive = root + "/archive"
        try FileManager.default.createDirectory(atPath: archive + "/bad", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.sampleData + "/dicom/ct_head_implicit", toPath: archive + "/good")
        let files = try FileManager.default.contentsOfDirectory(atPath: archive + "/good").sorted()
        for f in files { try FileManager.default.copyItem(atPath: archive + "/good/" + f, toPath: archive + "/bad/" + f) }
        // Another patient, so the copy is its own case; its pixel data cut short.
        let python = Subprocess.run(["/usr/bin/python3", "-c", """
        import sys, os
        d = sys.argv[1]
        for f in sorted(os.listdir(d)):
            b = open(os.path.join(d, f), 'rb').read()
            b = b.replace(b'INV3-CRANIUM', b'INV3-CRANIUX')
            open(os.path.join(d, f), 'wb').write(b)
        f = os.path.join(d, sorted(os.listdir(d))[3])
        b = open(f, 'rb').read()
        open(f, 'wb').write(b[:len(b) - 20000])
        """, archive + "/bad"])
        try #require(python.status == 0, "\(python.stderr)")
        let r = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/ct-head-report.json", "-i", archive, "-o", root + "/r", "-q"])
        #expect(r.status != 0)
        let index = try String(contentsOfFile: root + "/r/index.html", encoding: .utf8)
        #expect(index.contains("1 failed"), "\(index.prefix(600))")
        #expect(index.contains("class=\"failed\">failed") && index.contains("INV3-CRANIUX"))
        #expect(index.contains("href=\"cases/\(Self.caseID)/report.html\""))
        let again = PipelineFixtures.cli(["run", TestPaths.repositoryRoot + "/pipelines/dicom-to-nifti.json", "-i", archive + "/good", "-o", root + "/r", "-q", "--force"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!TestPaths.exists(root + "/r/index.html") && !TestPaths.exists(root + "/r/summary.csv"))
    }

    @Test("the report renders in headless Chromium, and the rendered page shows the JSON report's volumes",
          .enabled(if: HTMLReportTests.chromium != nil, Comment(rawValue: "chromium is not installed (scripts/install-deps.sh --test installs it)")))
    func rendersInChromium() throws {
        let browser = try #require(Self.chromium)
        let out = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(out) }
        let caseDir = try Self.run(out) + "/cases/" + Self.caseID
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(out)/profile"]
        let shot = Subprocess.run([browser] + flags + ["--screenshot=\(out)/shot.png", "--window-size=1200,1600", "file://\(caseDir)/report.html"], timeout: 120)
        #expect(shot.status == 0, "\(shot.stderr.suffix(400))")
        let png = try #require(FileManager.default.contents(atPath: out + "/shot.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000)
        // The DOM Chromium built: its table cells carry the JSON report's numbers, and every picture decoded.
        let dom = Subprocess.run([browser] + flags + ["--dump-dom", "file://\(caseDir)/report.html"], timeout: 120).stdout
        let report = try JSONParser.parse(String(contentsOfFile: caseDir + "/report.json", encoding: .utf8))
        guard case .array(let structures)? = report.member("results")?.value.member("html")?.value.member("structures")?.value.value else {
            Issue.record("no html section"); return
        }
        let rendered = Self.dataAttributes(dom, "volume-ml")
        for s in structures {
            let value = Int(s.member("value")?.value.json.doubleValue ?? -1)
            #expect(rendered[value] == JSON.format(s.member("volumeML")?.value.json.doubleValue ?? .nan))
        }
    }

    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { TestPaths.exists($0) }
    }

    @Test("report pictures are valid PNGs: chunks, CRCs and pixels checked by Python's zlib")
    func pngEncoder() throws {
        var rgb = [UInt8](repeating: 0, count: 7 * 5 * 3)
        for i in 0..<rgb.count { rgb[i] = UInt8((i * 37) % 256) }
        let png = try PNG.encode(rgb: rgb, width: 7, height: 5)
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try Data(png).write(to: URL(fileURLWithPath: dir + "/p.png"))
        let check = Subprocess.run(["/usr/bin/python3", "-c", """
        import struct, sys, zlib
        b = open(sys.argv[1], 'rb').read()
        assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
        pos, idat, ihdr = 8, b'', None
        while pos < len(b):
            n, = struct.unpack('>I', b[pos:pos+4]); t = b[pos+4:pos+8]; d = b[pos+8:pos+8+n]
            crc, = struct.unpack('>I', b[pos+8+n:pos+12+n]); assert crc == zlib.crc32(t + d) & 0xffffffff, t
            if t == b'IHDR': ihdr = struct.unpack('>IIBBBBB', d)
            if t == b'IDAT': idat += d
            pos += 12 + n
        w, h = ihdr[0], ihdr[1]; raw = zlib.decompress(idat); stride = w * 3; rows = []
        for y in range(h):
            f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            if f == 2: line = bytearray((line[x] + rows[-1][x]) % 256 for x in range(stride))
            else: assert f == 0
            rows.append(line)
        sys.stdout.write(','.join(str(v) for r in rows for v in r))
        """, dir + "/p.png"])
        try #require(check.status == 0, "\(check.stderr)")
        #expect(check.stdout == rgb.map(String.init).joined(separator: ","))
    }
}
