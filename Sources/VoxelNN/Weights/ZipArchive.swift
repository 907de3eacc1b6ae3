import Foundation

/// A read-only view of a ZIP archive held in memory (or memory-mapped), as `torch.save` writes them:
/// entries are listed from the central directory (ZIP64 records included) and their data located through
/// each local header. Only stored (uncompressed) entries can be read — the form PyTorch always uses; a
/// compressed entry is refused by name. Every offset and size is checked against the archive's length, so
/// a truncated or hostile file gives `NNError.invalidWeightsFile`, never a read past the end.
struct ZipArchive: Sendable {
    /// One central-directory entry.
    struct Entry {
        var name: String
        var method: Int
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let path: String
    let data: Data
    /// Entries by name.
    private(set) var entries: [String: Entry] = [:]
    /// Entry names in central-directory order.
    private(set) var names: [String] = []

    private func fail(_ why: String) -> NNError { .invalidWeightsFile(path: path, reason: why) }

    /// Reads the central directory.
    /// - Throws: `NNError.invalidWeightsFile` when the end-of-directory record is missing or any record
    ///   points outside the file.
    init(data: Data, path: String) throws {
        self.path = path
        self.data = data
        let n = data.count
        guard n >= 22 else { throw NNError.invalidWeightsFile(path: path, reason: "too short to be a ZIP archive (\(n) bytes)") }
        // The end-of-central-directory record sits in the last 22 + 65,535 bytes.
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65_535) {
            if u32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else {
            throw NNError.invalidWeightsFile(path: path, reason: "no ZIP end-of-directory record (truncated, or not a ZIP archive)")
        }
        var count = Int(u16(eocd + 10))
        var directorySize = Int(u32(eocd + 12))
        var directoryOffset = Int(u32(eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator right before the record points at the ZIP64 end-of-directory record.
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4b50 else { throw fail("ZIP64 archive without its locator") }
            let record = try checkedInt(u64(locator + 8), "ZIP64 record offset")
            guard record >= 0, record + 56 <= n, u32(record) == 0x0606_4b50 else { throw fail("ZIP64 end-of-directory record is missing or truncated") }
            count = try checkedInt(u64(record + 32), "entry count")
            directorySize = try checkedInt(u64(record + 40), "directory size")
            directoryOffset = try checkedInt(u64(record + 48), "directory offset")
        }
        guard directoryOffset <= n, directorySize <= n - directoryOffset else {
            throw fail("central directory (\(directorySize) bytes at \(directoryOffset)) lies past the end of the \(n)-byte file (truncated?)")
        }
        guard count <= directorySize / 46 + 1 else { throw fail("central directory claims \(count) entries in \(directorySize) bytes") }
        var p = directoryOffset
        for _ in 0..<count {
            guard p + 46 <= directoryOffset + directorySize, u32(p) == 0x0201_4b50 else { throw fail("central directory entry at byte \(p) is damaged") }
            let method = Int(u16(p + 10))
            var compressed = Int(u32(p + 20)), size = Int(u32(p + 24))
            let nameLength = Int(u16(p + 28)), extraLength = Int(u16(p + 30)), commentLength = Int(u16(p + 32))
            var local = Int(u32(p + 42))
            let nameStart = p + 46, extraStart = nameStart + nameLength, next = extraStart + extraLength + commentLength
            guard next <= directoryOffset + directorySize else { throw fail("central directory entry at byte \(p) runs past the directory") }
            let name = String(decoding: data[(data.startIndex + nameStart)..<(data.startIndex + extraStart)], as: UTF8.self)
            // ZIP64 extra field: the 64-bit values of the fields saturated at 0xFFFFFFFF, in this order.
            var e = extraStart
            while e + 4 <= extraStart + extraLength {
                let id = u16(e), length = Int(u16(e + 2))
                guard e + 4 + length <= extraStart + extraLength else { break }
                if id == 0x0001 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF, q + 8 <= e + 4 + length { size = try checkedInt(u64(q), "entry size"); q += 8 }
                    if compressed == 0xFFFF_FFFF, q + 8 <= e + 4 + length { compressed = try checkedInt(u64(q), "entry size"); q += 8 }
                    if local == 0xFFFF_FFFF, q + 8 <= e + 4 + length { local = try checkedInt(u64(q), "entry offset") }
                }
                e += 4 + length
            }
            entries[name] = Entry(name: name, method: method, compressedSize: compressed, size: size, localHeaderOffset: local)
            names.append(name)
            p = next
        }
    }

    /// The byte range of a stored entry's data within `data` (relative to `data.startIndex`).
    /// - Throws: `NNError.invalidWeightsFile` for a missing or compressed entry, or one that runs past the end.
    func range(of name: String) throws -> Range<Int> {
        guard let entry = entries[name] else { throw fail("the archive has no entry \(name)") }
        guard entry.method == 0 else {
            throw fail("entry \(name) is compressed (method \(entry.method)); PyTorch checkpoints store their entries uncompressed")
        }
        let local = entry.localHeaderOffset
        guard local >= 0, local + 30 <= data.count, u32(local) == 0x0403_4b50 else { throw fail("local header of \(name) is missing or damaged") }
        let start = local + 30 + Int(u16(local + 26)) + Int(u16(local + 28))
        guard entry.size == entry.compressedSize, start <= data.count, entry.size <= data.count - start else {
            throw fail("entry \(name) (\(entry.size) bytes at \(start)) runs past the end of the \(data.count)-byte file (truncated?)")
        }
        return start..<(start + entry.size)
    }

    /// A stored entry's bytes.
    func bytes(of name: String) throws -> [UInt8] {
        let r = try range(of: name)
        return [UInt8](data[(data.startIndex + r.lowerBound)..<(data.startIndex + r.upperBound)])
    }

    private func checkedInt(_ v: UInt64, _ what: String) throws -> Int {
        guard v <= UInt64(Int.max / 2) else { throw fail("\(what) \(v) is impossible") }
        return Int(v)
    }

    func u16(_ o: Int) -> UInt16 {
        data.withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    }

    func u32(_ o: Int) -> UInt32 {
        data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    }

    func u64(_ o: Int) -> UInt64 {
        data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    }
}
