#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of a file on disk (device and inode), after following symbolic links.
///
/// Two paths with the same identity are the same file: a hard link, a symbolic link, `./a` and `a`. Writers
/// use it to refuse writing an output over one of their inputs.
public struct FileIdentity: Hashable, Sendable {
    /// The device holding the file.
    public let device: UInt64
    /// The file's inode number on that device.
    public let inode: UInt64

    /// The identity of the file at `path`, or nil when nothing exists there (or a link dangles).
    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// True when `path` is a folder (after following symbolic links).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

extension NIfTI {
    /// The files a NIfTI dataset path stands for: the path itself for `.nii`/`.nii.gz`, both halves for a
    /// `.hdr`/`.img` pair (with and without `.gz`, as `read` accepts either). Empty for other extensions.
    public static func datasetFiles(_ path: String) -> [String] {
        guard let layout = try? NIfTILayout(path: path) else { return [] }
        guard layout.isPair else { return [path] }
        let plain = [layout.headerPath, layout.dataPath].map { $0.lowercased().hasSuffix(".gz") ? String($0.dropLast(3)) : $0 }
        return plain + plain.map { $0 + ".gz" }
    }
}
