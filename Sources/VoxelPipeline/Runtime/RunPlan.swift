import Foundation
import VoxelIO
import VoxelSupport

/// `OUT/plan.json`: every case of the archive, in the order that assigns them to shards, and the shard
/// count. Written by every run or shard when it starts (and by `voxelflow submit` before the job array
/// runs), so that `voxelflow status` can tell the cases no shard has reached yet ("missing") from those
/// that are done, and which shard owns each.
public struct RunPlan: Sendable, Equatable {
    /// The file name in the output folder.
    public static let fileName = "plan.json"

    /// The archive folder (absolute).
    public var archive: String
    /// SHA-256 of the pipeline file.
    public var pipelineSHA: String
    /// Number of shards (1 for an unsharded run).
    public var shardCount: Int
    /// True when the cases run as shards (`--shard i/n`, even 1/1), false for one unsharded run.
    public var sharded: Bool
    /// Every case id, sorted (the order `CaseDiscovery` gives).
    public var cases: [String]

    public init(archive: String, pipelineSHA: String, shardCount: Int, sharded: Bool, cases: [String]) {
        self.archive = archive
        self.pipelineSHA = pipelineSHA
        self.shardCount = max(1, shardCount)
        self.sharded = sharded
        self.cases = cases
    }

    /// The shard (1-based) that runs the case at `index` of `cases`: the rule of `CaseDiscovery.shard`.
    public func shard(ofCaseAt index: Int) -> Int { index % shardCount + 1 }

    /// The cases of shard `index`.
    public func cases(ofShard index: Int) -> [String] {
        cases.enumerated().filter { shard(ofCaseAt: $0.offset) == index }.map(\.element)
    }

    var json: JSON {
        .object([
            ("format", .string("voxelflow-plan")),
            ("formatVersion", .int(1)),
            ("archive", .string(archive)),
            ("pipelineSHA256", .string(pipelineSHA)),
            ("shards", .int(shardCount)),
            ("sharded", .bool(sharded)),
            ("cases", .array(cases.map { .string($0) })),
        ])
    }

    /// The plan recorded in `output`, or nil when there is none or it cannot be read.
    public static func read(output: String) -> RunPlan? {
        guard let data = FileManager.default.contents(atPath: "\(output)/\(fileName)"),
              let node = try? JSONParser.parse(bytes: [UInt8](data)),
              node.member("format")?.value.string == "voxelflow-plan",
              let archive = node.member("archive")?.value.string,
              let sha = node.member("pipelineSHA256")?.value.string,
              case .number(let shards)? = node.member("shards")?.value.value, shards >= 1, shards < 1e9,
              case .array(let items)? = node.member("cases")?.value.value else { return nil }
        return RunPlan(archive: archive, pipelineSHA: sha, shardCount: Int(shards),
                       sharded: { if case .bool(let b)? = node.member("sharded")?.value.value { return b } else { return shards > 1 } }(), cases: items.compactMap(\.string))
    }

    /// Writes the plan atomically unless the folder already holds the same one.
    /// - Throws: `RunError.cannotRecord`.
    public func write(output: String) throws {
        if RunPlan.read(output: output) == self { return }
        let path = "\(output)/\(RunPlan.fileName)"
        do {
            try AtomicFile.write(Array((json.serialized() + "\n").utf8), to: path)
        } catch {
            throw RunError.cannotRecord(path: path, reason: "\(error)")
        }
    }
}
