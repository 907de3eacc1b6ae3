import Foundation
import VoxelCore
import VoxelSupport

/// What nibabel reads from one NIfTI file (see scripts/oracles/nifti_reference.py).
public struct NibabelReference: Codable, Sendable, CustomTestStringConvertibleShim {
    public var path: String
    public var shape: [Int]
    public var dtype: String
    /// Best affine, RAS, 4 rows.
    public var affine: [[Double]]
    public var qform_code: Int
    public var sform_code: Int
    public var slope: Double?
    public var inter: Double?
    public var stored_sha256: String
    public var scaled_sha256: String
    public var min: Double
    public var max: Double

    public var testDescription: String { path }

    /// The committed references (Tests/Fixtures/nibabel_nifti_refs.jsonl).
    public static func committed() -> [NibabelReference] {
        let file = TestPaths.repositoryRoot + "/Tests/Fixtures/nibabel_nifti_refs.jsonl"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return parse(text)
    }

    /// Parses JSON lines.
    public static func parse(_ text: String) -> [NibabelReference] {
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(NibabelReference.self, from: Data($0.utf8)) }
    }

    /// Where the referenced file is on this machine: `sample-data/...` under the repository, anything else
    /// under the shared corpus.
    public var localPath: String {
        path.hasPrefix("sample-data/") ? TestPaths.repositoryRoot + "/" + path : TestPaths.sharedData + "/" + path
    }

    /// Runs nibabel on files now (needs the oracle venv); nil when the venv is absent or the run fails.
    public static func live(_ files: [String]) -> [NibabelReference]? {
        guard let python = TestPaths.oraclePython else { return nil }
        let script = TestPaths.repositoryRoot + "/scripts/oracles/nifti_reference.py"
        let result = Subprocess.run([python, script] + files)
        guard result.status == 0 else { return nil }
        return parse(result.stdout)
    }
}

/// Lets references name themselves in parameterised test output without importing Testing here.
public protocol CustomTestStringConvertibleShim {
    var testDescription: String { get }
}

extension Affine {
    /// The affine as 4 rows, for comparing with nibabel's.
    public func maxAbsDifference(toRows rows: [[Double]]) -> Double {
        maxAbsDifference(to: Affine(rows: rows))
    }
}
