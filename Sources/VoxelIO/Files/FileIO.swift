#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VoxelCore
import VoxelSupport

/// Low-level whole-file reads and atomic writes with typed errors.
enum FileIO {
    /// Size of the file at `path` in bytes.
    static func size(of path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileIOError(path: path, operation: .stat, reason: errnoString()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FileIOError(path: path, operation: .open, reason: "not a regular file")
        }
        return Int(st.st_size)
    }

    /// True when a regular file or directory exists at `path`.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Reads the whole file into memory.
    static func readAll(_ path: String) throws -> [UInt8] {
        let total = try size(of: path)
        return try read(path, offset: 0, count: total, allowShort: false)
    }

    /// Reads `count` bytes starting at `offset`. With `allowShort`, returns fewer bytes at end of file.
    static func read(_ path: String, offset: Int, count: Int, allowShort: Bool) throws -> [UInt8] {
        var got = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            MemoryAdvice.preferHugePages(raw)
            got = try readUpTo(path, offset: offset, into: raw)
            initialized = got
        }
        if got < count && !allowShort {
            throw FileIOError(path: path, operation: .read, reason: "file ended after \(offset + got) bytes, expected \(offset + count)")
        }
        return bytes
    }

    /// Fills `buffer` from the file starting at `offset`; throws when the file ends first.
    static func read(_ path: String, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        let got = try readUpTo(path, offset: offset, into: buffer)
        guard got == buffer.count else {
            throw FileIOError(path: path, operation: .read, reason: "file ended after \(offset + got) bytes, expected \(offset + buffer.count)")
        }
    }

    /// Reads as many bytes as fit in `buffer` (fewer at end of file); returns the count read.
    static func readUpTo(_ path: String, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: .open, reason: errnoString()) }
        defer { close(fd) }
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(path: path, operation: .read, reason: errnoString())
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes the given byte chunks, in order, to `path` atomically: they go to a temporary file in the
    /// same directory, which is renamed over `path` once complete. A killed process leaves either the old
    /// file or the new one, never a half-written file under `path`. With `durable`, the data is also
    /// flushed to disk (fsync) before the rename, so the same holds after a power loss.
    static func writeAtomically(_ path: String, chunks: [UnsafeRawBufferPointer], durable: Bool = false) throws {
        let tmp = temporaryName(for: path)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(path: path, operation: .write, reason: errnoString()) }
        var failure: FileIOError?
        outer: for chunk in chunks {
            var done = 0
            while done < chunk.count, let base = chunk.baseAddress {
                let n = write(fd, base + done, chunk.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = FileIOError(path: path, operation: .write, reason: errnoString())
                    break outer
                }
                done += n
            }
        }
        if failure == nil && durable && fsync(fd) != 0 {
            failure = FileIOError(path: path, operation: .write, reason: errnoString())
        }
        close(fd)
        if let failure {
            unlink(tmp)
            throw failure
        }
        guard rename(tmp, path) == 0 else {
            let reason = errnoString()
            unlink(tmp)
            throw FileIOError(path: path, operation: .rename, reason: reason)
        }
    }

    /// A unique temporary name beside `path` (same directory, so rename is atomic).
    static func temporaryName(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(dir).\(base).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func errnoString() -> String {
        String(cString: strerror(errno))
    }
}

extension FileIO {
    /// Runs `write` (a C writer that returns 0 on success, else fills `message`) on a temporary name beside
    /// `path`, then renames the file into place: `path` appears complete or not at all.
    /// - Throws: `DICOMError` with `what` and the writer's message; `FileIOError` when the rename fails.
    static func writeThenRename(_ path: String, what: String, _ write: (String, inout [CChar]) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 512)
        let temporary = temporaryName(for: path)
        guard write(temporary, &message) == 0 else {
            unlink(temporary)
            throw DICOMError(path: path, reason: "cannot write the \(what): \(DICOMFile.message(message))")
        }
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw FileIOError(path: path, operation: .rename, reason: why)
        }
    }
}

/// Whole-file writes that appear atomically: the bytes go to a temporary file beside the target (named
/// `.NAME.partial-PID-RANDOM`), which is renamed over the target once complete. Every file VoxelFlow writes
/// goes through here or through `NIfTI.write`, which uses the same mechanism.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically; with `durable`, flushes them to disk before the rename.
    /// - Throws: `FileIOError` naming the path, the operation and the system's reason.
    public static func write(_ bytes: [UInt8], to path: String, durable: Bool = false) throws {
        try bytes.withUnsafeBytes { try FileIO.writeAtomically(path, chunks: [$0], durable: durable) }
    }

    /// True for the name of a temporary file an atomic write left behind when its process was killed.
    public static func isLeftover(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains(".partial-")
    }
}
