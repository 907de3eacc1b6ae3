#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: .open, reason: errnoString()) }
        defer { close(fd) }
        var failure: FileIOError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count, let base = buffer.baseAddress {
                let n = pread(fd, base + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = FileIOError(path: path, operation: .read, reason: errnoString())
                    break
                }
                if n == 0 { break }
                done += n
            }
            initialized = done
        }
        if let failure { throw failure }
        if bytes.count < count && !allowShort {
            throw FileIOError(path: path, operation: .read, reason: "file ended after \(offset + bytes.count) bytes, expected \(offset + count)")
        }
        return bytes
    }

    /// Writes the given byte chunks, in order, to `path` atomically: they go to a temporary file in the
    /// same directory, which is flushed and then renamed over `path`. A crash leaves either the old file
    /// or the new one, never a half-written file under `path`.
    static func writeAtomically(_ path: String, chunks: [UnsafeRawBufferPointer]) throws {
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
        if failure == nil && fsync(fd) != 0 {
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
