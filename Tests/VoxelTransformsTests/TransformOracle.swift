import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelSupport

/// Runs scripts/oracles/transform_reference.py and reads back what it wrote.
enum TransformOracle {
    static var available: Bool { TestPaths.oraclePython != nil }

    /// Runs one operation; returns its JSON line and the raw output file's bytes.
    static func run(_ args: [String]) throws -> (json: [String: Any], bytes: Data) {
        let dir = TestPaths.temporaryDirectory("voxelflow-oracle")
        defer { TestPaths.removeTree(dir) }
        let out = dir + "/out.raw"
        let python = try #require(TestPaths.oraclePython)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/transform_reference.py"] + args + [out])
        try #require(r.status == 0, "\(r.stderr)")
        let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
        return (json ?? [:], try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    static func array<T>(_ data: Data, as _: T.Type) -> [T] {
        data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }
}
