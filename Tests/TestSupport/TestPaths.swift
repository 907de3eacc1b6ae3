import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the tests find the repository, the committed sample data and the shared real-data corpus.
public enum TestPaths {
    /// The repository root (derived from this file's location).
    public static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) }
        return path
    }()

    /// `sample-data/` in the repository (always present).
    public static var sampleData: String { repositoryRoot + "/sample-data" }

    /// The shared corpus: `$VOXELFLOW_SHARED_DATA`, else `../shared/data` beside the repository.
    public static var sharedData: String {
        if let env = getenv("VOXELFLOW_SHARED_DATA") { return String(cString: env) }
        return repositoryRoot + "/../shared/data"
    }

    /// True when the shared corpus is present.
    public static var sharedDataAvailable: Bool { exists(sharedData + "/nifti") }

    /// The message shown when corpus tests are skipped.
    public static let sharedDataMissing = "shared corpus ../shared/data is absent (set VOXELFLOW_SHARED_DATA to run these tests)"

    /// The oracle venv's Python (nibabel, numpy), made by scripts/setup-oracles.sh.
    public static var oraclePython: String? {
        if let env = getenv("VOXELFLOW_ORACLE_PYTHON") { return String(cString: env) }
        let p = repositoryRoot + "/.venv-oracles/bin/python"
        return exists(p) ? p : nil
    }

    /// The message shown when oracle tests are skipped.
    public static let oracleMissing = "nibabel oracle venv absent (run scripts/setup-oracles.sh)"

    /// The built `voxelflow` executable, beside the test bundle.
    public static var voxelflowExecutable: String {
        var dir = Bundle.main.bundlePath
        if !dir.hasSuffix(".xctest") { dir = CommandLine.arguments[0] }
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.endIndex)])
        return parent + "/voxelflow"
    }

    /// True when a file or directory exists.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// A fresh empty directory under the system temporary directory.
    public static func temporaryDirectory(_ label: String = "voxelflow-test") -> String {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> String? in
            guard let base = buf.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        return made ?? "/tmp/\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes a directory tree created by a test. Refuses (and reports) anything inside the repository's
    /// committed folders, so that a test mistaking an input for a temporary copy cannot delete it.
    public static func removeTree(_ path: String) {
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let root = URL(fileURLWithPath: repositoryRoot).standardizedFileURL.resolvingSymlinksInPath().path
        for folder in ["sample-data", "pipelines", "Sources", "Tests", "Plugins", "scripts", "docs"] {
            let protected = root + "/" + folder
            if resolved == protected || resolved.hasPrefix(protected + "/") || resolved == root {
                FileHandle.standardError.write(Data("TestPaths.removeTree: refused to remove \(path) (part of the repository)\n".utf8))
                return
            }
        }
        _ = Subprocess.run(["/bin/rm", "-rf", path])
    }
}
