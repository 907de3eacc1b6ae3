import Foundation

/// `path` made absolute against the working directory, with symbolic links resolved when it exists
/// (as recorded in provenance files and job scripts, which run elsewhere).
func absolutePath(_ path: String) -> String {
    if let resolved = realpath(path, nil) {
        defer { free(resolved) }
        return String(cString: resolved)
    }
    let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    return (absolute as NSString).standardizingPath
}

/// The running executable (absolute), for job scripts that call it again on other nodes.
func currentExecutable() -> String {
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
    return absolutePath(CommandLine.arguments[0])
}
