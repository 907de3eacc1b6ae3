/// Why a series could not become a volume.
public struct DICOMSeriesError: Error, Equatable, CustomStringConvertible {
    /// A file of the series (the first one, or the one at fault).
    public let path: String
    /// What is wrong, in words a radiologist can act on.
    public let reason: String
    /// Creates an error naming `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}
