#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory whole-file lock (`flock`) between processes, possibly on different machines sharing a file
/// system (Linux maps `flock` on NFS to byte-range locks, which NFSv4 servers honour).
///
/// The lock belongs to the open file: it is released by `unlock()`, by `deinit`, or by the kernel when the
/// process dies in any way (including `kill -9` or a node's Slurm job being cancelled). That last property is
/// what makes it a liveness signal: a lock that can be taken means that its holder is gone.
public final class FileLock: @unchecked Sendable {
    /// The lock file.
    public let path: String
    private let fd: Int32

    /// Opens (creating) the lock file; does not lock it.
    /// - Throws: `FileLockError` when the file cannot be opened or created.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileLockError(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { close(fd) }

    /// Waits until the lock is held exclusively.
    /// - Throws: `FileLockError` when the file system refuses locks.
    public func lock() throws {
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw FileLockError(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Takes the lock exclusively when nobody holds it, retrying for up to `patience` seconds (a reader such
    /// as `isHeld` holds it for an instant); false when another process keeps it.
    /// - Throws: `FileLockError` when the file system refuses locks.
    public func tryLock(patience: Double = 0.5) throws -> Bool {
        var waited = 0.0
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            if errno == EINTR { continue }
            guard errno == EWOULDBLOCK else { throw FileLockError(path: path, reason: String(cString: strerror(errno))) }
            if waited >= patience { return false }
            usleep(20_000)
            waited += 0.02
        }
    }

    /// Releases the lock.
    public func unlock() {
        _ = flock(fd, LOCK_UN)
    }

    /// True when some process holds the lock on `path` exclusively; false when the file is missing or free.
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}

/// A lock file that cannot be opened or locked.
public struct FileLockError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String

    public var description: String { "\(path): cannot lock: \(reason)" }
}
