import CCurl
import Foundation

/// How to authenticate to a server. Never printed: `description` says only which kind it is.
public enum HTTPCredentials: Sendable, CustomStringConvertible {
    case none
    /// HTTP basic authentication.
    case basic(user: String, password: String)
    /// `Authorization: Bearer <token>` (OAuth 2 access tokens, e.g. from a hospital's identity provider).
    case bearer(token: String)

    public var description: String {
        switch self {
        case .none: return "no authentication"
        case .basic(let user, _): return "basic authentication as \(user)"
        case .bearer: return "a bearer token"
        }
    }
}

/// Connection settings shared by every request of a client.
public struct HTTPOptions: Sendable {
    public var credentials: HTTPCredentials = .none
    /// A PEM file of certificate authorities to trust instead of the system's (a hospital's own CA).
    public var caFile: String?
    /// Seconds to connect.
    public var connectTimeout = 30
    /// Seconds without a byte after which a transfer is abandoned (a PACS that hangs).
    public var stallTimeout = 120
    /// Bytes per second to receive at most, so that a batch does not saturate a clinical PACS (0: no limit).
    public var maxReceiveRate: Int64 = 0

    public init() {}
}

/// The status line and headers of a response (names lowercased).
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: [String: String]

    public init(status: Int, headers: [String: String]) {
        self.status = status
        self.headers = headers
    }
}

/// Why a request failed. Messages name the URL without credentials (credentials never sit in URLs here).
public enum HTTPError: Error, CustomStringConvertible, Sendable {
    /// The connection failed or broke (refused, DNS, TLS, timeout, reset).
    case transport(url: String, message: String)
    /// The server answered with an error status; `detail` is the start of its body.
    case status(url: String, status: Int, detail: String)
    /// The receiver stopped the transfer (its own error is the reason).
    case receiver(url: String, reason: String)
    /// The URL is not one VoxelFlow sends requests to.
    case badURL(url: String, reason: String)

    /// True for failures that may pass: broken connections, timeouts, 5xx and 429 answers.
    public var isRetryable: Bool {
        switch self {
        case .transport: return true
        case .status(_, let status, _): return status >= 500 || status == 429 || status == 408
        case .receiver, .badURL: return false
        }
    }

    public var description: String {
        switch self {
        case .transport(let url, let message): return "\(url): \(message)"
        case .status(let url, let status, let detail): return "\(url): HTTP \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case .receiver(let url, let reason): return "\(url): \(reason)"
        case .badURL(let url, let reason): return "\(url): \(reason)"
        }
    }
}

/// HTTP(S) requests through libcurl: streamed bodies, basic or bearer authentication, a CA file, timeouts,
/// and a receive-rate limit. One request per call; calls may run on several threads at once.
public struct HTTPClient: Sendable {
    public var options: HTTPOptions

    public init(options: HTTPOptions = HTTPOptions()) {
        self.options = options
    }

    /// Checks that `url` is http(s) and holds no credentials (they would end up in logs and run records).
    public static func checkURL(_ url: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), ["http", "https"].contains(scheme),
              parts.host?.isEmpty == false else {
            throw HTTPError.badURL(url: url, reason: "not an http:// or https:// URL")
        }
        if parts.user != nil || parts.password != nil {
            throw HTTPError.badURL(url: "\(scheme)://…@\(parts.host ?? "")", reason: "credentials in the URL would be recorded in logs; give them with --user and a password file or a token file")
        }
    }

    /// GET `url`, handing the body to `receive` chunk by chunk as it arrives (with the response head).
    /// Error statuses (≥ 400) throw `HTTPError.status` with the start of the body instead.
    @discardableResult
    public func get(_ url: String, headers: [String], receive: (UnsafeRawBufferPointer, HTTPResponseHead) throws -> Void) throws -> HTTPResponseHead {
        try perform("GET", url, headers: headers, body: nil, receive: receive)
    }

    /// GET `url` into memory, refusing bodies over `limit` bytes.
    public func getBytes(_ url: String, headers: [String], limit: Int = 256 << 20) throws -> (HTTPResponseHead, [UInt8]) {
        var bytes: [UInt8] = []
        let head = try get(url, headers: headers) { chunk, _ in
            guard bytes.count + chunk.count <= limit else { throw HTTPError.receiver(url: url, reason: "the answer exceeds \(limit >> 20) MiB") }
            bytes.append(contentsOf: chunk)
        }
        return (head, bytes)
    }

    /// POST `body` to `url` and return the answer (at most `limit` bytes). Statuses in `accepting` are
    /// answers, not errors (STOW-RS reports per-instance failures with 409).
    public func post(_ url: String, headers: [String], body: [UInt8], accepting: Set<Int> = [], limit: Int = 64 << 20) throws -> (HTTPResponseHead, [UInt8]) {
        var bytes: [UInt8] = []
        let head = try perform("POST", url, headers: headers, body: body, accepting: accepting) { chunk, _ in
            guard bytes.count + chunk.count <= limit else { throw HTTPError.receiver(url: url, reason: "the answer exceeds \(limit >> 20) MiB") }
            bytes.append(contentsOf: chunk)
        }
        return (head, bytes)
    }

    private func perform(_ method: String, _ url: String, headers: [String], body: [UInt8]?, accepting: Set<Int> = [],
                         receive: (UnsafeRawBufferPointer, HTTPResponseHead) throws -> Void) throws -> HTTPResponseHead {
        try HTTPClient.checkURL(url)
        return try withoutActuallyEscaping(receive) { receive in
            let state = TransferState(url: url, accepting: accepting, receive: receive)
            let context = Unmanaged.passUnretained(state).toOpaque()
            var result = vf_http_result()
            let cHeaders = headers.map { strdup($0) }
            defer { cHeaders.forEach { free($0) } }
            let userPassword: String?, token: String?
            switch options.credentials {
            case .none: (userPassword, token) = (nil, nil)
            case .basic(let user, let password): (userPassword, token) = ("\(user):\(password)", nil)
            case .bearer(let t): (userPassword, token) = (nil, t)
            }
            let code: Int32 = url.withCString { cURL in
                method.withCString { cMethod in
                    withOptionalCString(userPassword) { cUser in
                        withOptionalCString(token) { cToken in
                            withOptionalCString(options.caFile) { cCA in
                                cHeaders.map { UnsafePointer($0) }.withUnsafeBufferPointer { headerPointers in
                                    (body ?? []).withUnsafeBufferPointer { bodyBytes in
                                        var request = vf_http_request()
                                        request.url = cURL
                                        request.method = cMethod
                                        request.headers = headerPointers.baseAddress
                                        request.header_count = Int32(headerPointers.count)
                                        request.user_password = cUser
                                        request.bearer_token = cToken
                                        request.ca_file = cCA
                                        request.connect_timeout = options.connectTimeout
                                        request.stall_timeout = options.stallTimeout
                                        request.max_receive_rate = options.maxReceiveRate
                                        request.body = body == nil ? nil : bodyBytes.baseAddress
                                        request.body_size = bodyBytes.count
                                        request.body_sink = { data, size, context in
                                            guard let context, let data else { return size }
                                            return Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue().body(UnsafeRawBufferPointer(start: data, count: size))
                                        }
                                        request.body_context = context
                                        request.header_sink = { data, size, context in
                                            guard let context, let data else { return size }
                                            return Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue().header(UnsafeRawBufferPointer(start: data, count: size))
                                        }
                                        request.header_context = context
                                        return vf_http_perform(&request, &result)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let error = state.error { throw error }
            if code != 0 {
                let message = withUnsafeBytes(of: result.message) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                throw HTTPError.transport(url: url, message: message)
            }
            let head = state.head
            if state.isError(head.status) {
                let detail = String(decoding: state.errorBody.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw HTTPError.status(url: url, status: head.status, detail: detail)
            }
            return head
        }
    }
}

/// The state of one transfer, reached from libcurl's callbacks.
private final class TransferState {
    let url: String
    let accepting: Set<Int>
    let receive: (UnsafeRawBufferPointer, HTTPResponseHead) throws -> Void
    var head = HTTPResponseHead(status: 0, headers: [:])
    var error: Error?
    /// The body of an error answer (kept for the message, not handed on).
    var errorBody: [UInt8] = []

    init(url: String, accepting: Set<Int>, receive: @escaping (UnsafeRawBufferPointer, HTTPResponseHead) throws -> Void) {
        self.url = url
        self.accepting = accepting
        self.receive = receive
    }

    func isError(_ status: Int) -> Bool { status >= 400 && !accepting.contains(status) }

    func header(_ line: UnsafeRawBufferPointer) -> Int {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("HTTP/") {
            // A new response (after 100 Continue or a proxy's answer) starts over.
            let parts = text.split(separator: " ")
            head = HTTPResponseHead(status: parts.count > 1 ? Int(parts[1]) ?? 0 : 0, headers: [:])
        } else if let colon = text.firstIndex(of: ":") {
            let name = text[..<colon].lowercased()
            let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            head.headers[name] = value
        }
        return line.count
    }

    func body(_ chunk: UnsafeRawBufferPointer) -> Int {
        if isError(head.status) {
            if errorBody.count < 4096 { errorBody.append(contentsOf: chunk.prefix(4096 - errorBody.count)) }
            return chunk.count
        }
        do {
            try receive(chunk, head)
            return chunk.count
        } catch {
            self.error = error
            return 0
        }
    }
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    guard let s else { return try body(nil) }
    return try s.withCString { try body($0) }
}
