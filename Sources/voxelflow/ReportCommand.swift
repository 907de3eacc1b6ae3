import ArgumentParser
import Foundation
import VoxelCatalog
import VoxelPipeline
import VoxelSupport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the summary of a whole batch, over all its shards (OUT/batch.json), and rebuild its pages.",
        discussion: """
        Merges every shard's records in OUT into OUT/batch.json: cases by state (as `voxelflow status`), \
        each shard's state and host, the failed cases with the stage and message, warnings by kind, seconds \
        per stage over the completed cases (count, total, median, 95th percentile, maximum), the sum of the \
        cases' seconds, and the wall time from the first start to the last end with the cases per hour it \
        gives. When the pipeline writes HTML reports or evaluations, index.html, summary.csv and the \
        evaluation tables are rebuilt over all shards; this needs the pipeline file: the one the run \
        recorded when it is still there and unchanged, or --pipeline.
        """
    )

    @Argument(help: "The output folder of `voxelflow run` or `voxelflow submit`.")
    var output: String

    @Option(name: .long, help: "The pipeline file, when the one the run recorded has moved (it must be the same file: same SHA-256).")
    var pipeline: String?

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        let report: BatchReport
        do {
            report = try BatchReport.build(output: output)
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        var spec: PipelineSpec?
        var note: String?
        let recorded = BatchReport.recordedPipeline(output: output)
        if let path = pipeline ?? recorded?.path {
            do {
                let loaded = try PipelineValidator(registry: StageCatalog.registry).load(path)
                if let sha = recorded?.sha256, sha != loaded.sha256 {
                    let message = "\(path) is not the pipeline the run used (sha256 \(loaded.sha256.prefix(12))…, the run's \(sha.prefix(12))…)"
                    if pipeline != nil {
                        printError("voxelflow: error: \(message)")
                        throw ExitCode(ExitCodes.badInput)
                    }
                    note = "batch pages not rebuilt: \(message); give --pipeline"
                } else {
                    spec = loaded
                }
            } catch let e as PipelineValidationError {
                if pipeline != nil {
                    printError("voxelflow: error: \(e)")
                    throw ExitCode(ExitCodes.badInput)
                }
                note = "batch pages not rebuilt: the recorded pipeline \(path) cannot be read; give --pipeline"
            }
        } else {
            note = "batch pages not rebuilt: the run recorded no pipeline file; give --pipeline"
        }
        do {
            try report.write(spec: spec)
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        guard !quiet else { return }
        let s = report.status
        print(StatusCommand.text(s, show: 5))
        if let wall = report.wallSeconds {
            let rate = wall > 0 ? String(format: ", %.0f cases/hour", Double(s.count(.done)) / wall * 3600) : ""
            print(String(format: "time: %.1f s wall from first start to last end, %.1f s summed over cases", wall, report.caseSeconds) + rate)
        }
        for t in report.stages.prefix(12) {
            print("  \(t.stage.padding(toLength: 24, withPad: " ", startingAt: 0))  " + String(format: "median %.3f s, p95 %.3f s, max %.3f s over %d cases", t.median, t.p95, t.max, t.count))
        }
        for w in report.warnings { print("warnings: \(w.count) \(w.kind) in \(w.cases) case\(w.cases == 1 ? "" : "s")") }
        if let note { print(note) }
        print("report: \(output)/\(BatchReport.fileName)" + (spec != nil ? " (batch pages rebuilt)" : ""))
    }
}
