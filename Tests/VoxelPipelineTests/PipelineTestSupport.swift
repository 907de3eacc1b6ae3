import Foundation
import VoxelCatalog
import TestSupport
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// Helpers shared by the pipeline tests: registries, small archives and pipeline files.
enum PipelineFixtures {
    /// The same stage set as the command-line tool.
    static var registry: StageRegistry { StageCatalog.registry }

    /// Writes `count` cases of tiny NIfTI images (`images/caseNN.nii.gz`, int16 "CT" values with a bright
    /// block) and matching labels (`labels/caseNN.nii.gz`). Cases in `corrupt` get a truncated image file.
    static func makeArchive(_ root: String, count: Int, corrupt: Set<Int> = [], size: Int = 12) throws {
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/labels", withIntermediateDirectories: true)
        for n in 0..<count {
            let name = String(format: "case%02d", n)
            let g = Geometry(size: SIMD3(size, size, size), spacing: SIMD3(1.0, 1.5, 2.0), origin: SIMD3(-10, 20, Double(n)))
            var values = [Int16](repeating: -1000, count: size * size * size)
            var labels = [UInt8](repeating: 0, count: size * size * size)
            for k in 0..<size { for j in 0..<size { for i in 0..<size {
                let index = i + size * (j + size * k)
                values[index] = Int16(-1000 + ((i * 7 + j * 3 + k * 11 + n * 5) % 50))
                if (2...(5 + n % 4)).contains(i) && (3...8).contains(j) && (1...6).contains(k) {
                    values[index] = Int16(400 + (i + j + k + n) % 300)
                    labels[index] = 1
                }
                if i >= size - 3 && j >= size - 3 && k >= size - 3 { labels[index] = 2 }
            } } }
            let image = try Volume(geometry: g, voxels: .int16(values), metadata: Metadata(modality: "CT"))
            let mask = try Volume(geometry: g, voxels: .uint8(labels))
            let imagePath = "\(root)/images/\(name).nii.gz"
            try NIfTI.write(image, to: imagePath)
            try NIfTI.write(mask, to: "\(root)/labels/\(name).nii.gz")
            if corrupt.contains(n) {
                let data = try Data(contentsOf: URL(fileURLWithPath: imagePath))
                try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: imagePath))
            }
        }
    }

    /// A pipeline over `makeArchive` cases: statistics, a cleaned mask and a report.
    static let statisticsPipeline = """
    {
      "voxelflow": 1,
      "name": "test-statistics",
      "seed": 7,
      "inputs": {
        "ct": { "type": "nifti", "pattern": "images/*.nii.gz" },
        "mask": { "type": "nifti", "pattern": "labels/*.nii.gz", "as": "labels" }
      },
      "stages": [
        { "id": "largest", "type": "keep-largest-component", "source": "mask" },
        { "id": "stats", "type": "label-statistics", "labels": "largest", "image": "ct" },
        { "id": "write", "type": "write-nifti", "source": "largest", "path": "mask_clean.nii.gz" },
        { "id": "report", "type": "write-report" }
      ]
    }
    """

    /// The statistics pipeline with a slow first stage (an external program that sleeps `seconds`, then
    /// copies the mask), so that a signal or a kill lands while cases are in flight. Returns its path.
    static func writeSlowPipeline(in directory: String, seconds: Double) throws -> String {
        let script = directory + "/slow-copy.sh"
        try "#!/bin/sh\nsleep \(seconds)\ncp \"$1\" \"$2\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let text = statisticsPipeline.replacingOccurrences(
            of: #"{ "id": "largest", "type": "keep-largest-component", "source": "mask" },"#,
            with: #"{ "id": "slow", "type": "external-command", "command": ["\#(script)", "{nifti:mask}", "{output}"] }, { "id": "largest", "type": "keep-largest-component", "source": "slow" },"#)
        return try writePipeline(text, in: directory)
    }

    /// Writes `text` as a pipeline file in `directory` and returns its path.
    static func writePipeline(_ text: String, in directory: String, name: String = "pipeline.json") throws -> String {
        let path = "\(directory)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Relative path → bytes of every file under `root` (hidden files included).
    static func tree(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        while let rel = e.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = "\(root)/\(rel)"
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                out[rel] = FileManager.default.contents(atPath: full)
            }
        }
        return out
    }

    /// Parsed manifest lines.
    static func manifest(_ out: String) throws -> [JSONNode] {
        let text = try String(contentsOfFile: "\(out)/manifest.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    /// Runs the CLI.
    static func cli(_ arguments: [String], timeout: Double = 300, environment: [String: String?] = [:]) -> Subprocess.Result {
        Subprocess.run([TestPaths.voxelflowExecutable] + arguments, timeout: timeout, environment: environment)
    }
}
