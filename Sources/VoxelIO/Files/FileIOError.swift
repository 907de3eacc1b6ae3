/// Errors from plain file access, carrying the path and the operating system's reason.
public struct FileIOError: Error, Equatable, CustomStringConvertible {
    /// What was being attempted.
    public enum Operation: String, Sendable { case open, read, write, rename, stat, remove }
    /// The file concerned.
    public let path: String
    /// What failed.
    public let operation: Operation
    /// The operating system's message (strerror) or a short explanation.
    public let reason: String

    /// Creates an error for `path`.
    public init(path: String, operation: Operation, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    /// The reason of a `FileIOError`, or the description of any other error.
    static func reason(_ error: any Error) -> String {
        (error as? FileIOError)?.reason ?? String(describing: error)
    }

    public var description: String { "\(path): cannot \(operation.rawValue): \(reason)" }
}
