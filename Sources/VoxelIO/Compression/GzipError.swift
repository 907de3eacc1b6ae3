/// Why a gzip stream could not be decompressed.
public enum GzipError: Error, Equatable, CustomStringConvertible {
    /// The stream ended before the expected number of bytes came out.
    case truncated(produced: Int, expected: Int)
    /// The compressed data is invalid (bad Huffman codes, bad CRC, bad header…).
    case corrupt(String)
    /// The bytes do not start with a gzip or zlib header.
    case notCompressed

    public var description: String {
        switch self {
        case .truncated(let p, let e): return "gzip stream is truncated: it holds \(p) bytes, \(e) were expected"
        case .corrupt(let why): return "gzip stream is corrupt: \(why)"
        case .notCompressed: return "not a gzip stream"
        }
    }
}
