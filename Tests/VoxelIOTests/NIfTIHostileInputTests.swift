import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO

/// Malformed and hostile NIfTI files give a typed error naming the file, before any large allocation.
@Suite("NIfTI hostile input")
struct NIfTIHostileInputTests {
    /// A valid uncompressed NIfTI-1 file: 352 header bytes + 61×73×61 int16 voxels.
    static func validNIfTI1() throws -> [UInt8] {
        try FileIO.readAll(TestPaths.sampleData + "/nifti/format/colin3mm_n1_int16.nii")
    }

    /// A valid NIfTI-2 file (the nibabel standard image rewritten as NIfTI-2).
    static func validNIfTI2() throws -> [UInt8] {
        let image = try NIfTI.read(TestPaths.sampleData + "/nifti/format/nibabel_standard.nii.gz")
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        try NIfTI.write(image.volume, to: dir + "/n2.nii", options: NIfTIWriteOptions(version: 2))
        return try FileIO.readAll(dir + "/n2.nii")
    }

    static func putLE16(_ b: inout [UInt8], _ at: Int, _ v: Int16) {
        let u = UInt16(bitPattern: v)
        b[at] = UInt8(u & 0xff); b[at + 1] = UInt8(u >> 8)
    }

    static func putLE64(_ b: inout [UInt8], _ at: Int, _ v: Int64) {
        for n in 0..<8 { b[at + n] = UInt8((UInt64(bitPattern: v) >> (8 * UInt64(n))) & 0xff) }
    }

    static func putFloat(_ b: inout [UInt8], _ at: Int, _ v: Float) {
        let u = v.bitPattern
        for n in 0..<4 { b[at + n] = UInt8((u >> (8 * UInt32(n))) & 0xff) }
    }

    /// Writes bytes to a fresh file and reads it, returning the error.
    static func readError(_ bytes: [UInt8], name: String = "bad.nii") throws -> NIfTIError {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let path = dir + "/" + name
        try bytes.withUnsafeBytes { try FileIO.writeAtomically(path, chunks: [$0]) }
        let error = #expect(throws: NIfTIError.self) { try NIfTI.read(path) }
        let e = try #require(error)
        #expect(e.path == path, "the error names the file")
        #expect(e.description.hasPrefix(path))
        return e
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { Gzip.compress([$0]) }.bytes
    }

    @Test("a negative dimension is rejected")
    func negativeDimension() throws {
        var b = try Self.validNIfTI1()
        Self.putLE16(&b, 42, -5)  // dim[1]
        let e = try Self.readError(b)
        guard case .invalidDimensions = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("a zero or negative dim[2] or dim[3] is rejected, not repaired to 1", arguments: [(44, 0), (44, -3), (46, 0), (46, -108)])
    func zeroOrNegativeDimension(_ offset: Int, _ value: Int) throws {
        var b = try Self.validNIfTI1()
        Self.putLE16(&b, offset, Int16(value))
        let e = try Self.readError(b)
        guard case .invalidDimensions(let why) = e.kind else { Issue.record("got \(e)"); return }
        #expect(why == "dim[\((offset - 40) / 2)] = \(value), must be at least 1")
    }

    @Test("a vox_offset that is huge, negative or not a number is refused, never replaced", arguments: [Float(2_147_483_648), 3e9, -352, .nan, .infinity])
    func unusableVoxOffset(_ value: Float) throws {
        var b = try Self.validNIfTI1()
        Self.putFloat(&b, 108, value)  // vox_offset
        let e = try Self.readError(b)
        guard case .truncated = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("dim[0] outside 1...7 is rejected")
    func badRank() throws {
        var b = try Self.validNIfTI1()
        Self.putLE16(&b, 40, 9)
        let e = try Self.readError(b)
        switch e.kind {
        case .invalidDimensions, .notNIfTI: break
        default: Issue.record("got \(e)")
        }
    }

    @Test("huge dimensions in a small file are refused before allocating")
    func hugeDimensionsUncompressed() throws {
        var b = try Self.validNIfTI1()
        for n in 0..<3 { Self.putLE16(&b, 42 + 2 * n, 32767) }  // 32767³ int16 = 70 TB
        let e = try Self.readError(b)
        guard case .truncated = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("a gzip file claiming far more data than it can hold is refused before allocating")
    func gzipBombClaim() throws {
        var b = try Self.validNIfTI1()
        for n in 0..<3 { Self.putLE16(&b, 42 + 2 * n, 32767) }
        let e = try Self.readError(Self.gzip(b), name: "bad.nii.gz")
        guard case .truncated(let why) = e.kind else { Issue.record("got \(e)"); return }
        #expect(why.contains("can hold at most"))
    }

    @Test("dimensions whose product overflows are rejected")
    func overflowingProduct() throws {
        // NIfTI-2 stores 64-bit dims: 2^40 × 2^40 overflows Int.
        var b = try Self.validNIfTI2()
        Self.putLE64(&b, 16 + 8, 1 << 40)  // dim[1]
        Self.putLE64(&b, 16 + 16, 1 << 40) // dim[2]
        let e = try Self.readError(b)
        guard case .invalidDimensions(let why) = e.kind else { Issue.record("got \(e)"); return }
        #expect(why.contains("overflow"))
    }

    @Test("a NIfTI-2 dim[0] beyond 32 bits is refused before libnifti2 sees it (found by fuzzing: it overflowed the stack)")
    func nifti2HugeRank() throws {
        var b = try Self.validNIfTI2()
        Self.putLE64(&b, 16, (1 << 32) + 3)  // dim[0]
        let e = try Self.readError(b)
        guard case .invalidDimensions(let why) = e.kind else { Issue.record("got \(e)"); return }
        #expect(why.contains("dim[0] = 4294967299"))
    }

    @Test("vox_offset past the end of the file is refused")
    func offsetPastEnd() throws {
        var b = try Self.validNIfTI1()
        Self.putFloat(&b, 108, 1e9)
        let e = try Self.readError(b)
        guard case .truncated = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("a file cut in half is reported as truncated")
    func truncatedFile() throws {
        let b = try Self.validNIfTI1()
        let e = try Self.readError(Array(b.prefix(b.count / 2)))
        guard case .truncated = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("a gzip stream cut in half is reported as truncated", arguments: [false, true])
    func truncatedGzip(foreignWriter: Bool) throws {
        // Our own multi-member files and single-member files from other tools take different paths.
        let compressed: [UInt8]
        if foreignWriter {
            compressed = try FileIO.readAll(TestPaths.sampleData + "/nifti/format/colin3mm_n2_int16.nii.gz")
        } else {
            compressed = Self.gzip(try Self.validNIfTI1())
        }
        let e = try Self.readError(Array(compressed.prefix(compressed.count / 2)), name: "cut.nii.gz")
        switch e.kind {
        case .truncated, .corrupt: break
        default: Issue.record("got \(e)")
        }
    }

    @Test("flipped bytes inside the compressed data are reported")
    func corruptGzip() throws {
        var compressed = Self.gzip(try Self.validNIfTI1())
        for n in stride(from: compressed.count / 2, to: compressed.count / 2 + 64, by: 1) { compressed[n] ^= 0x5a }
        let e = try Self.readError(compressed, name: "corrupt.nii.gz")
        switch e.kind {
        case .corrupt, .truncated: break
        default: Issue.record("got \(e)")
        }
    }

    @Test("unsupported datatypes are named")
    func complexDatatype() throws {
        var b = try Self.validNIfTI1()
        Self.putLE16(&b, 70, 32)  // DT_COMPLEX64
        Self.putLE16(&b, 72, 64)
        let e = try Self.readError(b)
        #expect(e.kind == .unsupportedDatatype(code: 32, name: "complex64"))
    }

    @Test("five-dimensional data is refused with the reason")
    func fiveDimensions() throws {
        var b = try Self.validNIfTI1()
        Self.putLE16(&b, 40, 5)
        Self.putLE16(&b, 48, 1)  // dim[4]
        Self.putLE16(&b, 50, 2)  // dim[5]
        let e = try Self.readError(b)
        guard case .invalidDimensions(let why) = e.kind else { Issue.record("got \(e)"); return }
        #expect(why.contains("more than 4 dimensions"))
    }

    @Test("a header without NIfTI magic is reported as Analyze")
    func analyzeHeader() throws {
        var b = try Self.validNIfTI1()
        for n in 344..<348 { b[n] = 0 }
        let e = try Self.readError(b)
        #expect(e.kind == .analyzeNotSupported)
    }

    @Test("files that are not NIfTI at all are rejected", arguments: ["empty", "text", "short-gzip", "random"])
    func notNIfTI(_ kind: String) throws {
        var bytes: [UInt8]
        switch kind {
        case "empty": bytes = []
        case "text": bytes = Array("this is not a NIfTI file, just text with a .nii name\n".utf8)
        case "short-gzip": bytes = Self.gzip(Array("tiny".utf8))
        default:
            var rng = SplitMix64(seed: 7)
            bytes = (0..<2000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        let e = try Self.readError(bytes, name: kind == "short-gzip" ? "x.nii.gz" : "x.nii")
        guard case .notNIfTI = e.kind else { Issue.record("got \(e)"); return }
    }

    @Test("a missing .img of a pair is reported")
    func missingImage() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let header = try FileIO.readAll(TestPaths.sampleData + "/nifti/format/colin3mm_pair.hdr")
        try header.withUnsafeBytes { try FileIO.writeAtomically(dir + "/lonely.hdr", chunks: [$0]) }
        #expect(throws: NIfTIError.self) { try NIfTI.read(dir + "/lonely.hdr") }
    }

    @Test("random single-byte header mutations never crash")
    func headerMutationsNeverCrash() throws {
        let valid = try Self.validNIfTI1()
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        var rng = SplitMix64(seed: 2026)
        var failures = 0
        for round in 0..<300 {
            var b = valid
            let position = Int(rng.next() % 352)
            b[position] = UInt8(truncatingIfNeeded: rng.next())
            let path = dir + "/m\(round).nii"
            try b.withUnsafeBytes { try FileIO.writeAtomically(path, chunks: [$0]) }
            do {
                _ = try NIfTI.read(path)
            } catch let e as NIfTIError {
                #expect(e.path.hasSuffix("m\(round).nii"))
                failures += 1
            }
        }
        #expect(failures > 0, "some mutations (dims, datatype, magic) must be refused")
    }
}

/// A small deterministic random generator for tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
