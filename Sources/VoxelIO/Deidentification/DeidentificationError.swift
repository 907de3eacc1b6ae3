/// Why a de-identification could not start or a file could not be de-identified.
public enum DeidentificationError: Error, Equatable, CustomStringConvertible {
    /// The profile names an unknown option or two that exclude each other.
    case invalidProfile(String)
    /// The secret key is missing, too short or unreadable.
    case invalidKey(String)
    /// The pseudonym map cannot be read (path, line, reason).
    case invalidMap(path: String, line: Int, reason: String)
    /// A file cannot be read, de-identified or written (path, reason).
    case file(path: String, reason: String)
    /// The input and output folders overlap, or the output cannot be used.
    case invalidOutput(String)

    public var description: String {
        switch self {
        case .invalidProfile(let why): "de-identification profile: \(why)"
        case .invalidKey(let why): "de-identification key: \(why)"
        case .invalidMap(let path, let line, let why): "\(path):\(line): \(why)"
        case .file(let path, let why): "\(path): \(why)"
        case .invalidOutput(let why): why
        }
    }
}
