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
}
