import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// The state of one case while its stages run: inputs (loaded on first use), stage results, warnings
/// and the files written. Stages read earlier results through it and write their files inside it.
public struct CaseContext: Sendable {
    /// The case id (sanitised; safe as a path component).
    public let caseID: String
    /// The case's inputs by name.
    public let inputs: [String: CaseInput]
    /// Seed for this case's random choices, derived from the pipeline seed and the case id.
    public let seed: UInt64
    /// The folder this case's files are written to while it runs; it is moved into place when every stage
    /// succeeded, so a failed or killed case never leaves files under its final name.
    public let stagingDirectory: String
    /// The id of the stage now running (for records).
    public internal(set) var currentStage: String = ""
    /// Results by input name or stage id.
    public internal(set) var values: [String: StageValue] = [:]
    /// Report sections (stage id → JSON) in stage order.
    public internal(set) var reports: [(String, JSON)] = []
    /// Label tables that stages attached to the label maps they produced (a `segment` stage's model
    /// table), by stage id.
    public internal(set) var labelTables: [String: LabelTable] = [:]
    /// Warnings to record in the manifest.
    public var warnings: [String] = []
    /// Stages that did not run for this case (their `when` did not hold, or they take a skipped stage's value),
    /// with the reason, in order.
    public internal(set) var skipped: [(stage: String, reason: String)] = []
    /// Files written so far, relative to the case folder, in order.
    public internal(set) var outputs: [String] = []
    /// Seconds spent loading each input.
    public internal(set) var loadTimes: [(String, Double)] = []
    /// Geometry and value summaries of the inputs loaded so far (for reports), kept after the voxels are
    /// released.
    public internal(set) var inputSummaries: [String: [(String, JSON)]] = [:]

    /// The pipeline being run (for reports).
    public let pipeline: PipelineIdentity
    /// The run's output folder (OUT), for stages that keep run-wide records such as a push record; nil
    /// outside `voxelflow run` (training, tests).
    public internal(set) var runFolder: String?
    /// Extra members of the case's manifest line, by key (e.g. "pushed": what a PACS answered per
    /// instance). Keys must not be the manifest's own (case, status, inputs, outputs, timings, seconds,
    /// warnings, skipped, error).
    public var manifestEntries: [(String, JSON)] = []

    init(caseID: String, inputs: [String: CaseInput], seed: UInt64, stagingDirectory: String,
         pipeline: PipelineIdentity = PipelineIdentity(name: "", sha256: "", tool: "")) {
        self.pipeline = pipeline
        self.caseID = caseID
        self.inputs = inputs
        self.seed = seed
        self.stagingDirectory = stagingDirectory
    }

    /// The value of an input or earlier stage; inputs are read from disk on first use.
    /// - Throws: the reader's error for an unreadable input; `CaseError` for an unknown id.
    public mutating func value(_ id: String) throws -> StageValue {
        if let v = values[id] { return v }
        guard let input = inputs[id] else { throw CaseError.noSuchValue(id: id) }
        let start = Clock.now()
        let v: StageValue
        do {
            v = try input.load(warnings: &warnings)
        } catch {
            loadTimes.append((id, Clock.now() - start))
            throw InputLoadError(input: id, message: "\(error)")
        }
        loadTimes.append((id, Clock.now() - start))
        switch v {
        case .image(let volume): inputSummaries[id] = ImageDescription.json(volume)
        case .labels(let l): inputSummaries[id] = ImageDescription.json(l.volume) + [("labels", .array(l.labelsPresent().map { .int($0) }))]
        case .report: break
        }
        values[id] = v
        return v
    }

    /// The image `id`.
    /// - Throws: `CaseError` when `id` holds another kind of value.
    public mutating func image(_ id: String) throws -> Volume {
        if case .image(let v) = try value(id) { return v }
        throw CaseError.wrongKind(id: id, found: try value(id).kindName, needed: "an image")
    }

    /// The label map `id`.
    /// - Throws: `CaseError` when `id` holds another kind of value.
    public mutating func labels(_ id: String) throws -> LabelMap {
        if case .labels(let v) = try value(id) { return v }
        throw CaseError.wrongKind(id: id, found: try value(id).kindName, needed: "a label map")
    }

    /// The grid of the image or label map `id` (for putting results back on a scan's grid).
    /// - Throws: `CaseError` when `id` holds a report.
    public mutating func geometry(_ id: String) throws -> Geometry {
        switch try value(id) {
        case .image(let v): return v.geometry
        case .labels(let l): return l.geometry
        case .report: throw CaseError.wrongKind(id: id, found: "a report", needed: "an image or label map (a grid)")
        }
    }

    /// Expands `{case}` and `{id}` in an output path template (already checked by the validator).
    public func outputName(_ template: String, id: String) -> String {
        template.replacingOccurrences(of: "{case}", with: caseID).replacingOccurrences(of: "{id}", with: id)
    }

    /// Reserves the file `relativePath` in the case's folder: creates its parent folders in the staging
    /// folder, records it as an output and returns the full path to write to.
    public mutating func outputFile(_ relativePath: String) throws -> String {
        let full = "\(stagingDirectory)/\(relativePath)"
        let parent = (full as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw CaseError.cannotWrite(path: parent, reason: "cannot create the folder: \(FileSystemMessage.describe(error))")
        }
        if !outputs.contains(relativePath) { outputs.append(relativePath) }
        return full
    }

    /// Writes `text` to `relativePath` in the case's folder (temporary name, then rename).
    public mutating func writeText(_ text: String, to relativePath: String) throws {
        let full = try outputFile(relativePath)
        try AtomicFile.write(Array(text.utf8), to: full)
    }

    mutating func store(_ value: StageValue, as id: String) {
        values[id] = value
        if case .report(let json) = value { reports.append((id, json)) }
    }

    mutating func drop(_ id: String) { values[id] = nil }
}

/// Which pipeline and tool produced a case's outputs.
public struct PipelineIdentity: Sendable {
    /// The pipeline's `name`.
    public var name: String
    /// SHA-256 of the pipeline file.
    public var sha256: String
    /// "voxelflow VERSION", or empty when not known.
    public var tool: String
}

/// An input of a case that could not be loaded: the runner reports the input (`input:NAME`), not the
/// stage that first asked for it.
public struct InputLoadError: Error, CustomStringConvertible, Sendable {
    /// The input's name.
    public var input: String
    /// The reader's message (it names the file).
    public var message: String
    public var description: String { "input \"\(input)\": \(message)" }
}

/// Monotonic seconds.
enum Clock {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

extension CaseContext {
    /// Why `stage` does not run for this case, or nil when it runs: it takes a value from a skipped stage, or its
    /// `when` does not hold for the classify result it reads.
    func skipReason(_ stage: StageSpec) -> String? {
        let skippedIDs = Set(skipped.map(\.stage))
        if let ref = stage.references.first(where: { skippedIDs.contains($0) }) { return "it takes \"\(ref)\", which was skipped" }
        guard let condition = stage.condition else { return nil }
        if skippedIDs.contains(condition.stage) { return "its condition reads \"\(condition.stage)\", which was skipped" }
        guard case .report(let section)? = values[condition.stage] else { return condition.skipReason(report: nil) }
        return condition.skipReason(report: section)
    }

    /// Records that `stage` was skipped.
    mutating func skip(_ stage: String, reason: String) { skipped.append((stage, reason)) }
}
