import Testing
import TestSupport
import CDeflate
@testable import VoxelIO

@Suite("gzip members")
struct GzipTests {
    static func sample(_ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: ($0 / 7) &* 31 ^ ($0 >> 9)) }
    }

    @Test("multi-member output decodes identically with the parallel index and with zlib", arguments: [0, 1, 1000, Gzip.memberSize, 3 * Gzip.memberSize + 17])
    func membersDecodeBothWays(size: Int) throws {
        let data = Self.sample(size)
        let compressed = data.withUnsafeBytes { Gzip.compress([$0], level: 6, threads: 2) }.bytes
        try compressed.withUnsafeBytes { input in
            let members = try #require(Gzip.indexedMembers(input))
            #expect(members.count == max(1, (size + Gzip.memberSize - 1) / Gzip.memberSize))
            var parallel = [UInt8](repeating: 0, count: size)
            _ = try parallel.withUnsafeMutableBytes { try Gzip.decompress(input, into: $0) }
            #expect(parallel == data)
            var streamed = [UInt8](repeating: 0, count: size)
            let produced = try streamed.withUnsafeMutableBytes { try Gzip.streamInflate(input, into: $0).produced }
            #expect(produced == size)
            #expect(streamed == data)
        }
    }

    @Test("a range inside and across members decodes exactly")
    func rangeAcrossMembers() throws {
        let data = Self.sample(2 * Gzip.memberSize + 100)
        let header = [UInt8](repeating: 9, count: 352)
        let compressed = header.withUnsafeBytes { h in data.withUnsafeBytes { d in Gzip.compress([h, d]) } }.bytes
        try compressed.withUnsafeBytes { input in
            let members = try #require(Gzip.indexedMembers(input))
            for range in [352..<(352 + data.count), 100..<500, (Gzip.memberSize - 5)..<(Gzip.memberSize + 400)] {
                var out = [UInt8](repeating: 0, count: range.count)
                try out.withUnsafeMutableBytes { try Gzip.decompressRange(input, members: members, range: range, into: $0) }
                let all = header + data
                #expect(out == Array(all[range]))
            }
        }
    }

    @Test("a member with a wrong CRC is refused")
    func badCRC() throws {
        let data = Self.sample(5000)
        var compressed = data.withUnsafeBytes { Gzip.compress([$0]) }.bytes
        compressed[compressed.count - 6] ^= 0xff  // inside the CRC32 field
        compressed.withUnsafeBytes { input in
            var out = [UInt8](repeating: 0, count: data.count)
            #expect(throws: GzipError.self) { try out.withUnsafeMutableBytes { try Gzip.decompress(input, into: $0) } }
        }
    }

    @Test("our multi-member files are standard gzip: system gunzip restores them")
    func gunzipReadsOurFiles() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let data = Self.sample(2 * Gzip.memberSize + 3)
        let members = data.withUnsafeBytes { Gzip.compress([$0]) }
        try members.withBuffers { try FileIO.writeAtomically(dir + "/x.gz", chunks: $0) }
        let r = Subprocess.run(["/bin/gzip", "-d", "-f", dir + "/x.gz"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileIO.readAll(dir + "/x") == data)
    }
}
