import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport
@testable import VoxelIO

@Suite("Secondary Capture overlay series for PACS without SEG")
struct DICOMOverlaySeriesTests {
    @Test("one RGB image per slice: the windowed slice, label outlines in their colours, a legend, and a reference to the source image")
    func overlay() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(DICOMScanner.scan(SegFixtures.series).stacks.first)
        let map = try SegFixtures.labels(stack, values: [1, 2])
        let table = LabelTable([LabelInfo(value: 1, name: "Bone", color: [250, 10, 10]), LabelInfo(value: 2, name: "Soft tissue", color: [10, 250, 10])])
        let n = try DICOMOverlaySeries.write(map, reference: stack, table: table, window: (40, 400), to: dir + "/ov")
        #expect(n == stack.slices.count)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/ov").sorted()
        #expect(files.count == n && files.first == "SC0001.dcm")
        let volume = try stack.volume()
        let g = volume.geometry, frameSize = g.size.x * g.size.y
        for (k, name) in files.enumerated() where k % 5 == 0 {
            let path = dir + "/ov/" + name
            let header = try DICOMHeader.read(path)
            #expect(header.sopClassUID == "1.2.840.10008.5.1.4.1.1.7" && header.samplesPerPixel == 3)
            let p = try #require(stack.slices[k].position), q = try #require(header.imagePosition)
            #expect(abs(q[0] - p.x) < 1e-3 && abs(q[1] - p.y) < 1e-3 && abs(q[2] - p.z) < 1e-3)
            let pixels = try DICOMPixels.decode(path)
            guard case .uint8(let rgb) = pixels.samples else { Issue.record("not 8-bit RGB"); continue }
            var outlines = 0, greys = 0
            for i in 0..<frameSize {
                let l = Int(map.volume.voxels.value(at: k * frameSize + i))
                let px = Array(rgb[(3 * i)..<(3 * i + 3)])
                let (x, y) = (i % g.size.x, i / g.size.x)
                guard x > 40 || y > 40 else { continue }  // the legend's corner
                if l == 0 {
                    // Background: the windowed grey of the source slice.
                    let hu = Double(volume.scaling.apply(volume.voxels.value(at: k * frameSize + i)))
                    let grey = UInt8((min(1, max(0, (hu - (40 - 200)) / 400)) * 255).rounded())
                    #expect(px == [grey, grey, grey], "slice \(k + 1) pixel \(i)")
                    greys += 1
                } else if px == (l == 1 ? [250, 10, 10] : [10, 250, 10]) {
                    outlines += 1
                }
            }
            #expect(greys > 0 && (map.labelsPresent().count == 1 || outlines > 0), "slice \(k + 1)")
            // The legend: a red swatch at the top left.
            #expect(Array(rgb[(3 * (4 * g.size.x + 4))..<(3 * (4 * g.size.x + 4) + 3)]) == [250, 10, 10])
        }
        if TestPaths.exists("/usr/bin/dciodvfy") {
            let v = Subprocess.run(["/usr/bin/dciodvfy", dir + "/ov/SC0001.dcm"])
            #expect((v.stdout + v.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }.isEmpty, "dciodvfy: \(v.stderr.prefix(400))")
        }
        // An existing folder is refused, never written into.
        #expect(throws: FileIOError.self) { try DICOMOverlaySeries.write(map, reference: stack, window: (40, 400), to: dir + "/ov") }
    }
}
