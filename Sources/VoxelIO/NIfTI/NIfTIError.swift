/// Why a NIfTI file could not be read or written. Every case names the file.
public struct NIfTIError: Error, Equatable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: Equatable, Sendable {
        /// The file is not NIfTI (bad sizeof_hdr or magic, or too short for a header).
        case notNIfTI(String)
        /// An Analyze 7.5 header without NIfTI magic.
        case analyzeNotSupported
        /// The header's datatype code is not one VoxelFlow stores.
        case unsupportedDatatype(code: Int, name: String)
        /// Dimensions are zero, negative, more than 4D, or overflow when multiplied.
        case invalidDimensions(String)
        /// The header claims more voxel bytes than the file can hold (truncated file or hostile header).
        case truncated(String)
        /// The compressed stream is damaged.
        case corrupt(String)
        /// The file extension does not say which NIfTI layout to use.
        case unsupportedExtension(String)
        /// The output file could not be written (the system's reason).
        case cannotWriteFile(String)
        /// The transform that gives the geometry (sform, qform or pixdim) is unusable (e.g. not finite).
        case invalidTransform(String)
        /// The volume cannot be represented in the requested output (e.g. too large for NIfTI-1).
        case cannotEncode(String)
        /// The operating system refused a read or write.
        case io(String)
    }

    /// The file concerned.
    public let path: String
    /// What went wrong.
    public let kind: Kind

    /// Creates an error for `path`.
    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String {
        let what: String
        switch kind {
        case .notNIfTI(let why): what = "not a NIfTI file: \(why)"
        case .analyzeNotSupported: what = "Analyze 7.5 header without NIfTI magic: not supported (convert it to NIfTI first)"
        case .unsupportedDatatype(let code, let name): what = "unsupported NIfTI datatype \(code) (\(name))"
        case .invalidDimensions(let why): what = "invalid dimensions: \(why)"
        case .truncated(let why): what = "truncated or inconsistent file: \(why)"
        case .corrupt(let why): what = "corrupt data: \(why)"
        case .invalidTransform(let why): what = "unusable geometry: \(why)"
        case .cannotWriteFile(let why): what = "cannot write: \(why)"
        case .unsupportedExtension(let ext): what = "unsupported file extension '\(ext)' (use .nii, .nii.gz, .hdr or .img)"
        case .cannotEncode(let why): what = "cannot write: \(why)"
        case .io(let why): what = why
        }
        return "\(path): \(what)"
    }
}

extension NIfTIError {
    /// True when writing an output failed (as opposed to reading an input): the command line exits 3.
    public var isOutputError: Bool {
        switch kind {
        case .cannotEncode, .cannotWriteFile: return true
        default: return false
        }
    }
}
