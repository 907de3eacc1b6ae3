import VoxelCore
import CDeflate
import Dispatch
import VoxelSupport

/// Gzip reading and writing for `.nii.gz` and friends.
///
/// Writing produces a standard multi-member gzip file (RFC 1952 allows any number of members; every gzip
/// reader concatenates them). Each member VoxelFlow writes carries an `FEXTRA` subfield `VF` holding the
/// member's compressed length and uncompressed length, so a reader can find all members without inflating
/// them and decompress them in parallel. Files from other tools (one member, no subfield) are decompressed
/// sequentially with libdeflate; zlib's streaming inflater reads header prefixes and explains failures.
public enum Gzip {
    /// Uncompressed bytes per member when writing.
    public static let memberSize = 1 << 20
    /// Largest expansion DEFLATE allows (about 1032:1), used to reject headers that promise more data than
    /// a compressed file could possibly hold before allocating for it.
    public static let maxExpansion = 1032

    /// Default libdeflate compression level (1 fastest … 12 smallest). Level 1 matches nibabel's default
    /// and, with libdeflate, already compresses CT slightly smaller than zlib level 1.
    public static let defaultLevel = 1

    /// True when `bytes` starts with the gzip magic number.
    public static func isGzip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    // MARK: Reading

    /// Inflates at most `maxBytes` from the start of a gzip stream (for reading a header without
    /// decompressing the whole file). Returns fewer bytes when the stream is shorter.
    public static func inflatePrefix(_ input: UnsafeRawBufferPointer, maxBytes: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: maxBytes)
        let produced = try out.withUnsafeMutableBytes { (dst) throws -> Int in
            try streamInflate(input, into: dst).produced
        }
        out.removeSubrange(produced...)
        return out
    }

    /// Decompresses a whole gzip file into `output`, which must be exactly the expected uncompressed size.
    /// - Returns: true when the stream held more data than `output` (the extra was ignored).
    /// - Throws: `GzipError.truncated` when fewer bytes come out, `.corrupt` for invalid data.
    @discardableResult
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                                  threads: Int = defaultThreads) throws -> Bool {
        guard isGzip(input) else { throw GzipError.notCompressed }
        if let members = indexedMembers(input), members.reduce(0, { $0 + $1.uncompressedSize }) == output.count {
            try decompressRange(input, members: members, range: 0..<output.count, into: output, threads: threads)
            return false
        }
        return try decompressSequentially(input, into: output)
    }

    /// Worker threads used by default: one per core.
    public static var defaultThreads: Int { max(1, ComputeBudget.threads) }

    struct Member {
        var offset: Int            // start of the member in the file
        var dataOffset: Int        // start of the raw DEFLATE data
        var dataSize: Int          // bytes of raw DEFLATE data
        var uncompressedSize: Int
        var crc: UInt32
        var outputOffset: Int
    }

    /// Walks VoxelFlow-written members using their `VF` subfields; nil when any member lacks one or the
    /// index is inconsistent with the file (then the caller falls back to sequential decompression).
    static func indexedMembers(_ input: UnsafeRawBufferPointer) -> [Member]? {
        var members: [Member] = []
        var pos = 0
        var outPos = 0
        while pos < input.count {
            guard input.count - pos >= headerSize + 8,
                  input[pos] == 0x1f, input[pos + 1] == 0x8b, input[pos + 2] == 8, input[pos + 3] == 0x04,
                  readLE16(input, pos + 10) == 12, input[pos + 12] == UInt8(ascii: "V"), input[pos + 13] == UInt8(ascii: "F"),
                  readLE16(input, pos + 14) == 8
            else { return nil }
            let memberSize = Int(readLE32(input, pos + 16))
            let uncompressed = Int(readLE32(input, pos + 20))
            guard memberSize >= headerSize + 8, memberSize <= input.count - pos else { return nil }
            let trailer = pos + memberSize - 8
            guard Int(readLE32(input, trailer + 4)) == uncompressed else { return nil }
            members.append(Member(offset: pos, dataOffset: pos + headerSize, dataSize: memberSize - headerSize - 8,
                                  uncompressedSize: uncompressed, crc: readLE32(input, trailer), outputOffset: outPos))
            outPos += uncompressed
            pos += memberSize
        }
        return members.isEmpty ? nil : members
    }

    /// Decompresses the bytes `range` of the uncompressed stream into `output` (`range.count` bytes) from
    /// indexed members, in parallel. Members wholly inside the range inflate straight into `output`.
    static func decompressRange(_ input: UnsafeRawBufferPointer, members: [Member], range: Range<Int>,
                                into output: UnsafeMutableRawBufferPointer, threads: Int = defaultThreads) throws {
        let wanted = members.filter { $0.outputOffset < range.upperBound && $0.outputOffset + $0.uncompressedSize > range.lowerBound }
        guard !wanted.isEmpty, let inBase = input.baseAddress, let outBase = output.baseAddress else { return }
        let workers = min(max(1, threads), wanted.count)
        let failureSlots = UnsafeMutableBufferPointer<GzipError?>.allocate(capacity: workers)
        failureSlots.initialize(repeating: nil)
        defer { failureSlots.deallocate() }
        let failures = Shared(failureSlots)
        let pointers = Shared((inBase, outBase))
        Parallel.perform(workers) { worker in
            let (inBase, outBase) = pointers.value
            guard let d = libdeflate_alloc_decompressor() else {
                failures.value[worker] = .corrupt("out of memory for a decompressor")
                return
            }
            defer { libdeflate_free_decompressor(d) }
            var scratch: UnsafeMutableRawPointer?
            defer { scratch?.deallocate() }
            var m = worker
            while m < wanted.count {
                let member = wanted[m]
                let start = member.outputOffset
                let end = start + member.uncompressedSize
                let inside = start >= range.lowerBound && end <= range.upperBound
                let dst: UnsafeMutableRawPointer
                if inside {
                    dst = outBase + (start - range.lowerBound)
                } else {
                    scratch?.deallocate()
                    scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, member.uncompressedSize), alignment: 16)
                    dst = scratch ?? outBase
                }
                let r = libdeflate_deflate_decompress(d, inBase + member.dataOffset, member.dataSize,
                                                      dst, member.uncompressedSize, nil)
                if r != LIBDEFLATE_SUCCESS {
                    failures.value[worker] = .corrupt("member at byte \(member.offset) does not inflate")
                    return
                }
                if libdeflate_crc32(0, dst, member.uncompressedSize) != member.crc {
                    failures.value[worker] = .corrupt("CRC mismatch in member at byte \(member.offset)")
                    return
                }
                if !inside {
                    let lo = max(start, range.lowerBound)
                    let hi = min(end, range.upperBound)
                    (outBase + (lo - range.lowerBound)).copyMemory(from: dst + (lo - start), byteCount: hi - lo)
                }
                m += workers
            }
        }
        if let failure = failureSlots.compactMap({ $0 }).first { throw failure }
    }

    /// Decompresses member after member with libdeflate; on any trouble, re-runs with zlib's streaming
    /// inflater, which stops when `output` is full and tells truncation from corruption.
    static func decompressSequentially(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard let d = libdeflate_alloc_decompressor(), let inBase = input.baseAddress, let outBase = output.baseAddress else {
            return try inflateFully(input, into: output)
        }
        defer { libdeflate_free_decompressor(d) }
        var inPos = 0
        var outPos = 0
        while outPos < output.count && inPos < input.count {
            var used = 0
            var produced = 0
            let r = libdeflate_gzip_decompress_ex(d, inBase + inPos, input.count - inPos,
                                                  outBase + outPos, output.count - outPos, &used, &produced)
            guard r == LIBDEFLATE_SUCCESS else {
                return try inflateFully(input, into: output)
            }
            inPos += used
            outPos += produced
            // Skip zero padding some tools leave after the last member.
            if outPos < output.count, inPos < input.count, !(input.count - inPos >= 2 && input[inPos] == 0x1f && input[inPos + 1] == 0x8b) {
                break
            }
        }
        if outPos < output.count { throw GzipError.truncated(produced: outPos, expected: output.count) }
        return inPos < input.count && input[inPos...].contains { $0 != 0 }
    }

    /// zlib inflate that must fill `output`; used to explain what libdeflate refused.
    static func inflateFully(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Bool {
        let r = try streamInflate(input, into: output)
        if r.produced < output.count { throw GzipError.truncated(produced: r.produced, expected: output.count) }
        return r.extra
    }

    /// zlib streaming inflate of a (possibly multi-member) gzip stream into `output`. Stops when `output`
    /// is full or the input ends (`produced` then tells how far it got); throws only for corrupt data.
    /// - Returns: bytes produced, and whether compressed data remained unread once `output` was full.
    static func streamInflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> (produced: Int, extra: Bool) {
        guard let inBase = input.baseAddress else { throw GzipError.notCompressed }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GzipError.corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var inPos = 0
        var outPos = 0
        while true {
            let inChunk = min(input.count - inPos, Int(UInt32.max))
            let outChunk = min(output.count - outPos, Int(UInt32.max))
            stream.next_in = UnsafeMutablePointer(mutating: inBase.assumingMemoryBound(to: UInt8.self) + inPos)
            stream.avail_in = UInt32(inChunk)
            stream.next_out = output.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + outPos }
            stream.avail_out = UInt32(outChunk)
            let status = inflate(&stream, Z_NO_FLUSH)
            inPos += inChunk - Int(stream.avail_in)
            outPos += outChunk - Int(stream.avail_out)
            if outPos == output.count {
                return (outPos, status != Z_STREAM_END || input[inPos...].contains { $0 != 0 })
            }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                if inPos >= input.count || (status == Z_BUF_ERROR && stream.avail_in == 0) {
                    return (outPos, false)  // input ended mid-stream
                }
            case Z_STREAM_END:
                guard input.count - inPos >= 2 && input[inPos] == 0x1f && input[inPos + 1] == 0x8b else {
                    return (outPos, false)
                }
                inflateReset(&stream)  // another member follows
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw GzipError.corrupt(message)
            }
        }
    }

    // MARK: Writing

    /// Bytes of the gzip header VoxelFlow writes (10 fixed + 2 XLEN + 12 subfield).
    static let headerSize = 24

    /// Compresses `parts` (concatenated, in order) into a multi-member gzip stream. Each part starts a new
    /// member, and parts longer than `memberSize` are split. Members are compressed in parallel into one
    /// output allocation (no per-member buffers, no zero-filling).
    public static func compress(_ parts: [UnsafeRawBufferPointer], level: Int = defaultLevel,
                                threads: Int = defaultThreads) -> GzipMembers {
        var sliceList: [UnsafeRawBufferPointer] = []
        for part in parts {
            var start = 0
            repeat {
                let end = min(part.count, start + memberSize)
                sliceList.append(UnsafeRawBufferPointer(rebasing: part[start..<end]))
                start = end
            } while start < part.count
        }
        let clamped = min(max(level, 1), 12)
        // Each member gets a slot big enough for its worst case.
        var slotOffsets: [Int] = []
        var total = 0
        let probe = libdeflate_alloc_compressor(Int32(clamped))
        for slice in sliceList {
            slotOffsets.append(total)
            let bound = probe.map { libdeflate_deflate_compress_bound($0, slice.count) } ?? 0
            total += headerSize + max(bound, storedSize(slice.count)) + 8
        }
        if let probe { libdeflate_free_compressor(probe) }
        let output = GzipMembers(capacity: total, count: sliceList.count)
        MemoryAdvice.preferHugePages(UnsafeMutableRawBufferPointer(start: output.base, count: total))
        let slices = Shared(sliceList)
        let slots = Shared(slotOffsets + [total])
        let workers = min(max(1, threads), sliceList.count)
        Parallel.perform(workers) { worker in
            let c = libdeflate_alloc_compressor(Int32(clamped))
            defer { if let c { libdeflate_free_compressor(c) } }
            var s = worker
            while s < slices.value.count {
                let start = slots.value[s]
                let end = slots.value[s + 1]
                let slot = UnsafeMutableRawBufferPointer(start: output.base + start, count: end - start)
                let length = writeMember(slices.value[s], compressor: c, into: slot)
                output.setMember(s, start..<(start + length))
                s += workers
            }
        }
        return output
    }

    /// Writes one gzip member with the `VF` subfield into `slot`; returns its length. Falls back to stored
    /// (uncompressed) blocks if the compressor is unavailable or the data does not compress.
    static func writeMember(_ data: UnsafeRawBufferPointer, compressor: OpaquePointer?, into slot: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = slot.baseAddress else { return 0 }
        let room = slot.count - headerSize - 8
        var deflated = 0
        if let c = compressor, let src = data.baseAddress, data.count > 0 {
            deflated = libdeflate_deflate_compress(c, src, data.count, base + headerSize, room)
        }
        if deflated == 0 {
            deflated = writeStored(data, to: UnsafeMutableRawBufferPointer(rebasing: slot[headerSize..<(headerSize + room)]))
        }
        let total = headerSize + deflated + 8
        let fixed: [UInt8] = [0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 255, 12, 0, UInt8(ascii: "V"), UInt8(ascii: "F"), 8, 0]
        for (n, byte) in fixed.enumerated() { slot[n] = byte }
        putLE32(slot, 16, UInt32(total))
        putLE32(slot, 20, UInt32(truncatingIfNeeded: data.count))
        let crc = data.baseAddress.map { libdeflate_crc32(0, $0, data.count) } ?? 0
        putLE32(slot, total - 8, UInt32(crc))
        putLE32(slot, total - 4, UInt32(truncatingIfNeeded: data.count))
        return total
    }

    /// Size of `n` bytes as stored (type 0) DEFLATE blocks.
    static func storedSize(_ n: Int) -> Int { n + 5 * max(1, (n + 65534) / 65535) }

    /// Writes `data` as stored DEFLATE blocks; returns bytes written.
    static func writeStored(_ data: UnsafeRawBufferPointer, to dst: UnsafeMutableRawBufferPointer) -> Int {
        var pos = 0
        var start = 0
        repeat {
            let len = min(65535, data.count - start)
            let final: UInt8 = start + len >= data.count ? 1 : 0
            dst[pos] = final
            dst[pos + 1] = UInt8(len & 0xff)
            dst[pos + 2] = UInt8(len >> 8)
            dst[pos + 3] = UInt8(~len & 0xff)
            dst[pos + 4] = UInt8((~len >> 8) & 0xff)
            pos += 5
            for n in 0..<len { dst[pos + n] = data[start + n] }
            pos += len
            start += len
        } while start < data.count
        return pos
    }

    // MARK: Little-endian helpers

    static func readLE16(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    static func readLE32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
    static func putLE32(_ b: UnsafeMutableRawBufferPointer, _ at: Int, _ v: UInt32) {
        b[at] = UInt8(v & 0xff); b[at + 1] = UInt8((v >> 8) & 0xff)
        b[at + 2] = UInt8((v >> 16) & 0xff); b[at + 3] = UInt8(v >> 24)
    }
}
