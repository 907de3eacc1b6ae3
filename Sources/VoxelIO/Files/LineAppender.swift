#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A record file that grows one line at a time (manifests, pull and push records, submissions): each line
/// goes out in a single `write` on a file opened for appending, so concurrent writers never interleave and
/// a killed process leaves at most one incomplete last line, which readers skip.
public final class LineAppender: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()

    /// Opens (creating) the file for appending.
    /// - Throws: `FileIOError` naming the file.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(path: path, operation: .open, reason: String(cString: strerror(errno))) }
    }

    deinit { close(fd) }

    /// Appends `line` and a line end.
    /// - Throws: `FileIOError` when the line could not be written whole.
    public func append(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        lock.lock()
        defer { lock.unlock() }
        let n = bytes.withUnsafeBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(fd, base, buffer.count)
        }
        guard n == bytes.count else { throw FileIOError(path: path, operation: .write, reason: String(cString: strerror(errno))) }
    }
}
