/// A JSON syntax error at a line and column (1-based) of the source text.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict RFC 8259 JSON parser that records where every value starts.
///
/// Strict means: no comments, no trailing commas, no NaN, nesting at most 256 deep (so that hostile
/// input cannot exhaust the stack). Duplicate keys are kept in order; the pipeline validator reports them.
public enum JSONParser {
    /// Parses a whole document.
    /// - Throws: `JSONSyntaxError` with the position of the first problem.
    public static func parse(_ text: String) throws -> JSONNode {
        try parse(validUTF8: Array(text.utf8))
    }

    /// Parses a whole document from its bytes, which must be UTF-8 (RFC 8259 §8.1): a byte sequence that is
    /// not UTF-8 is reported at its line and column instead of being replaced silently.
    /// - Throws: `JSONSyntaxError` with the position of the first problem.
    public static func parse(bytes: [UInt8]) throws -> JSONNode {
        if let (offset, why) = firstInvalidUTF8(bytes) {
            var line = 1, lineStart = 0
            for i in 0..<offset where bytes[i] == UInt8(ascii: "\n") { line += 1; lineStart = i + 1 }
            throw JSONSyntaxError(line: line, column: offset - lineStart + 1, message: "\(why) (JSON text must be UTF-8)")
        }
        return try parse(validUTF8: bytes)
    }

    /// The offset of the first byte that does not start a well-formed UTF-8 sequence, and why, or nil.
    static func firstInvalidUTF8(_ b: [UInt8]) -> (Int, String)? {
        var i = 0
        while i < b.count {
            let lead = b[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return (i, "invalid UTF-8 byte 0x\(String(lead, radix: 16, uppercase: true))")
            }
            guard i + length <= b.count else { return (i, "UTF-8 sequence cut short by the end of the text") }
            for k in 1..<length {
                let c = b[i + k]
                let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                guard c >= lo && c <= hi else {
                    return (i, "invalid UTF-8 sequence starting with byte 0x\(String(lead, radix: 16, uppercase: true))")
                }
            }
            i += length
        }
        return nil
    }

    private static func parse(validUTF8 bytes: [UInt8]) throws -> JSONNode {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let node = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < parser.bytes.count { throw parser.error("unexpected text after the JSON value") }
        return node
    }
}

private struct Parser {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lineStart = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var column: Int { index - lineStart + 1 }

    func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: column, message: message)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A: index += 1; line += 1; lineStart = index
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONNode {
        guard depth < 256 else { throw error("nesting deeper than 256 levels") }
        guard index < bytes.count else { throw error("unexpected end of text; a value was expected") }
        let (l, c) = (line, column)
        func node(_ v: JSONNode.Value) -> JSONNode { JSONNode(value: v, line: l, column: c) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return node(try parseObject(depth: depth))
        case UInt8(ascii: "["): return node(try parseArray(depth: depth))
        case UInt8(ascii: "\""): return node(.string(try parseString()))
        case UInt8(ascii: "t"): try literal("true"); return node(.bool(true))
        case UInt8(ascii: "f"): try literal("false"); return node(.bool(false))
        case UInt8(ascii: "n"): try literal("null"); return node(.null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return node(.number(try parseNumber()))
        case UInt8(ascii: "]"), UInt8(ascii: "}"): throw error("a value was expected before '\(Character(UnicodeScalar(bytes[index])))' (trailing comma?)")
        default: throw error("unexpected character '\(printable(bytes[index]))'; a value was expected")
        }
    }

    func printable(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(Character(UnicodeScalar(b))) : "\\u{\(String(b, radix: 16))}"
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else {
            throw error("unexpected text; did you mean '\(word)'? (JSON strings need double quotes)")
        }
        index += w.count
    }

    mutating func expect(_ ch: Character, _ what: String) throws {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == ch.asciiValue else {
            throw error(index < bytes.count ? "expected \(what), found '\(printable(bytes[index]))'" : "unexpected end of text; expected \(what)")
        }
        index += 1
    }

    mutating func parseObject(depth: Int) throws -> JSONNode.Value {
        index += 1
        var members: [JSONNode.Member] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                if index < bytes.count && bytes[index] == UInt8(ascii: "}") { throw error("trailing comma before '}'") }
                throw error(index < bytes.count ? "expected a key in double quotes, found '\(printable(bytes[index]))'" : "unexpected end of text inside an object")
            }
            let (kl, kc) = (line, column)
            let key = try parseString()
            try expect(":", "':' after the key \"\(key)\"")
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            members.append(JSONNode.Member(key: key, keyLine: kl, keyColumn: kc, value: value))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text; expected ',' or '}'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw error("expected ',' or '}' after the value of \"\(key)\", found '\(printable(bytes[index]))'")
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONNode.Value {
        index += 1
        var items: [JSONNode] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text; expected ',' or ']'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw error("expected ',' or ']' in the array, found '\(printable(bytes[index]))'")
        }
    }

    mutating func parseString() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() { if !raw.isEmpty { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll() } }
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush()
                guard index + 1 < bytes.count else { throw error("unfinished escape in a string") }
                let e = bytes[index + 1]
                index += 2
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count,
                       bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair in a \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let s = UnicodeScalar(code) else { throw error("invalid \\u escape (lone surrogate)") }
                    scalars.append(s)
                default:
                    index -= 2
                    throw error("invalid escape '\\\(printable(e))' in a string")
                }
            case 0x0A:
                throw error("line break inside a string (missing closing quote?)")
            case 0..<0x20:
                throw error("control character inside a string; escape it")
            default:
                raw.append(b)
                index += 1
            }
        }
        throw error("unexpected end of text inside a string (missing closing quote?)")
    }

    mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("\\u needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigit(bytes[index]) else { throw error("\\u needs four hex digits") }
            v = v * 16 + d
            index += 1
        }
        return v
    }

    func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    mutating func parseNumber() throws -> Double {
        let start = index
        func digits() -> Int {
            let s = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - s
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let intStart = index
        guard digits() > 0 else { throw error("a digit was expected") }
        if bytes[intStart] == UInt8(ascii: "0") && index - intStart > 1 {
            index = start
            throw error("numbers cannot have leading zeros")
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("a digit was expected after the decimal point") }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard digits() > 0 else { throw error("a digit was expected in the exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw error("number \(text) is out of range") }
        return d
    }
}
