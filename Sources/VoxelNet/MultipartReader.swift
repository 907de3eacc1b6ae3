/// Splits a `multipart/related` body (RFC 2046, as WADO-RS answers) into its parts while it streams in:
/// each part's headers, then its bytes in chunks, then its end, without holding a whole series in memory.
///
/// Parts are delimited by CRLF `--boundary`; the first delimiter may start the body without the CRLF, the
/// last is followed by `--`. Text after the close delimiter (the epilogue) is ignored; a body that ends
/// before it is incomplete (`finish()` throws).
public final class MultipartReader {
    /// Receives the parts.
    public struct Handler {
        public var partStarted: ([String: String]) throws -> Void
        public var partData: (UnsafeRawBufferPointer) throws -> Void
        public var partEnded: () throws -> Void

        public init(partStarted: @escaping ([String: String]) throws -> Void, partData: @escaping (UnsafeRawBufferPointer) throws -> Void,
                    partEnded: @escaping () throws -> Void) {
            self.partStarted = partStarted
            self.partData = partData
            self.partEnded = partEnded
        }
    }

    private enum State { case preamble, afterDelimiter, headers, body, done }

    private let delimiter: [UInt8]
    private var handler: Handler
    private var buffer: [UInt8] = [13, 10]  // so that a body starting with --boundary matches CRLF--boundary
    private var state = State.preamble
    /// Headers of a part are refused beyond this size (a body that is not multipart at all).
    private let headerLimit = 64 << 10
    /// Parts completed.
    public private(set) var parts = 0

    /// - Parameter boundary: the `boundary` parameter of the Content-Type.
    public init(boundary: String, handler: Handler) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.handler = handler
    }

    /// The `boundary` parameter of a `multipart/…` Content-Type, or nil.
    public static func boundary(ofContentType contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// Feeds the next bytes of the body.
    public func feed(_ chunk: UnsafeRawBufferPointer) throws {
        guard state != .done else { return }
        buffer.append(contentsOf: chunk)
        try process()
    }

    /// Checks that the body ended after the close delimiter.
    /// - Throws: `MultipartError.incomplete` when it did not.
    public func finish() throws {
        guard state == .done else { throw MultipartError.incomplete(partsCompleted: parts) }
    }

    private func process() throws {
        var start = 0
        defer { if start > 0 { buffer.removeFirst(start) } }
        while true {
            switch state {
            case .preamble:
                guard let at = find(delimiter, from: start) else {
                    // Keep what could be the start of a delimiter.
                    start = max(start, buffer.count - (delimiter.count - 1))
                    return
                }
                start = at + delimiter.count
                state = .afterDelimiter
            case .afterDelimiter:
                // "--" closes; otherwise optional whitespace, then CRLF.
                guard buffer.count - start >= 2 else { return }
                if buffer[start] == 45 && buffer[start + 1] == 45 {
                    state = .done
                    start = buffer.count
                    return
                }
                guard let crlf = find([13, 10], from: start) else {
                    if buffer.count - start > 256 { throw MultipartError.malformed("no line end after a boundary") }
                    return
                }
                guard buffer[start..<crlf].allSatisfy({ $0 == 32 || $0 == 9 }) else { throw MultipartError.malformed("text after a boundary") }
                start = crlf + 2
                state = .headers
            case .headers:
                var headers: [String: String] = [:]
                if buffer.count - start >= 2, buffer[start] == 13, buffer[start + 1] == 10 {
                    // No headers at all.
                    start += 2
                } else {
                    guard let end = find([13, 10, 13, 10], from: start) else {
                        if buffer.count - start > headerLimit { throw MultipartError.malformed("part headers longer than 64 KiB") }
                        return
                    }
                    for line in String(decoding: buffer[start..<end], as: UTF8.self).components(separatedBy: "\r\n") {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        headers[line[..<colon].lowercased().trimmingCharacters(in: .whitespaces)] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                    start = end + 4
                }
                try handler.partStarted(headers)
                state = .body
            case .body:
                if let at = find(delimiter, from: start) {
                    try emit(start, at)
                    try handler.partEnded()
                    parts += 1
                    start = at + delimiter.count
                    state = .afterDelimiter
                } else {
                    // Everything but a possible partial delimiter at the end is data.
                    let safe = buffer.count - (delimiter.count - 1)
                    if safe > start {
                        try emit(start, safe)
                        start = safe
                    }
                    return
                }
            case .done:
                start = buffer.count
                return
            }
        }
    }

    private func emit(_ from: Int, _ to: Int) throws {
        guard to > from else { return }
        try buffer.withUnsafeBytes { raw in
            try handler.partData(UnsafeRawBufferPointer(rebasing: raw[from..<to]))
        }
    }

    /// The first index of `pattern` in `buffer` at or after `from`.
    private func find(_ pattern: [UInt8], from: Int) -> Int? {
        guard let first = pattern.first, buffer.count - from >= pattern.count else { return nil }
        var i = from
        let last = buffer.count - pattern.count
        while i <= last {
            if buffer[i] == first {
                var j = 1
                while j < pattern.count && buffer[i + j] == pattern[j] { j += 1 }
                if j == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }
}

/// A multipart body that cannot be split.
public enum MultipartError: Error, CustomStringConvertible, Sendable {
    case malformed(String)
    case incomplete(partsCompleted: Int)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed multipart answer: \(why)"
        case .incomplete(let n): return "the multipart answer ended before its closing boundary (after \(n) complete part\(n == 1 ? "" : "s"))"
        }
    }
}
