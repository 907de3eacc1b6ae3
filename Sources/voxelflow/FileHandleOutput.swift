#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum FileHandleOutput {
    /// Writes to file descriptor 2 directly (the C `stderr` global is not concurrency-safe to reference).
    static func writeStderr(_ s: String) {
        var copy = s
        copy.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
    }

    /// Writes one line to file descriptor 1 at once, unbuffered (log lines of a long-running command,
    /// which must reach a log file even if the process is killed).
    static func writeStdoutLine(_ s: String) {
        var copy = s + "\n"
        copy.withUTF8 { buf in _ = write(1, buf.baseAddress, buf.count) }
    }
}
