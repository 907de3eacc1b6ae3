import Foundation
import Testing
import TestSupport
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelPipeline
import VoxelSupport

/// The `evaluate` stage in a run: per-case tables and report sections, the run's metrics.csv and
/// metrics-summary.csv, failures kept to their case.
@Suite("evaluate stage")
struct EvaluateStageTests {
    static let pipeline = """
    {
      "voxelflow": 1,
      "name": "test-evaluate",
      "inputs": {
        "ct": { "type": "nifti", "pattern": "images/*.nii.gz" },
        "mask": { "type": "nifti", "pattern": "labels/*.nii.gz", "as": "labels" }
      },
      "stages": [
        { "id": "bright", "type": "threshold", "source": "ct", "lower": 300 },
        { "id": "write", "type": "write-nifti", "source": "bright", "path": "bright.nii.gz" },
        { "id": "metrics", "type": "evaluate", "prediction": "bright", "reference": "mask", "labels": [1, 2],
          "labelTable": { "labels": [{ "value": 1, "name": "Block" }, { "value": 2, "name": "Corner" }] }, "tolerance": 1.5 },
        { "id": "report", "type": "write-report" }
      ]
    }
    """

    static func rows(_ path: String) throws -> (header: [String], rows: [[String]]) {
        EvaluationTable.parse(try String(contentsOfFile: path, encoding: .utf8))
    }

    @Test("A batch with one corrupt case: four cases measured, their rows gathered and summarised, the report carries the metrics")
    func batch() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 5, corrupt: [3])
        let path = try PipelineFixtures.writePipeline(Self.pipeline, in: root)
        let spec = try PipelineValidator(registry: PipelineFixtures.registry).load(path)
        let summary = try Runner(spec: spec, registry: PipelineFixtures.registry)
            .run(RunOptions(archive: root + "/archive", output: root + "/out"), progress: ProgressReporter(style: .quiet))
        #expect(summary.succeeded == 4 && summary.failed == 1)

        let (header, rows) = try Self.rows(root + "/out/metrics.csv")
        #expect(header == EvaluationTable.header(.init(tolerance: 1.5)))
        #expect(rows.map { "\($0[0])/\($0[1])/\($0[2])" } == ["case00", "case01", "case02", "case04"].flatMap { ["\($0)/1/Block", "\($0)/2/Corner"] })
        // Each row is what the library measures on the files the run wrote (the library itself is checked against MONAI).
        for c in ["case00", "case01", "case02", "case04"] {
            let prediction = try LabelMap(NIfTI.read("\(root)/out/cases/\(c)/bright.nii.gz").volume)
            let reference = try LabelMap(NIfTI.read("\(root)/archive/labels/\(c).nii.gz").volume)
            let expected = try SegmentationEvaluator.evaluate(prediction: prediction, reference: reference, options: .init(labels: [1, 2], tolerance: 1.5))
            let mine = rows.filter { $0[0] == c }
            #expect(mine == EvaluationTable.rows(caseID: c, expected, names: [1: "Block", 2: "Corner"]))
            // The bright block is exactly label 1; the corner label is never predicted.
            #expect(expected.labels[0].dice == 1 && expected.labels[0].hausdorff == 0)
            #expect(expected.labels[1].presence == .referenceOnly && expected.labels[1].sensitivity == 0 && expected.labels[1].precision == nil)
            let caseTable = try Self.rows("\(root)/out/cases/\(c)/metrics.csv")
            #expect(caseTable.rows == mine)
            let report = try JSONParser.parse(String(contentsOfFile: "\(root)/out/cases/\(c)/report.json", encoding: .utf8)).json
            #expect(report["results"]?["metrics"]?["labels"] != nil, "the report carries the stage's section")
        }
        let (summaryHeader, summaryRows) = try Self.rows(root + "/out/metrics-summary.csv")
        #expect(summaryHeader == EvaluationTable.summaryHeader)
        let dice2 = try #require(summaryRows.first { $0[0] == "2" && $0[2] == "dice" })
        #expect(dice2[3] == "4" && dice2[5] == "0")
        let precision2 = try #require(summaryRows.first { $0[0] == "2" && $0[2] == "precision" })
        #expect(precision2[3] == "0" && precision2[4] == "4", "precision of an empty prediction is undefined in every case")
        let allDice = try #require(summaryRows.first { $0[0] == "all" && $0[2] == "dice" })
        #expect(allDice[3] == "8" && allDice[5] == "0.5")
        let page = try String(contentsOfFile: root + "/out/metrics.html", encoding: .utf8)
        #expect(page.contains("4 case(s) measured, 1 failed (case03)"), "the page names the failed case")
        #expect(page.contains("<td class=\"t\">case04</td><td class=\"t\">2</td><td class=\"t\">Corner</td><td class=\"t\">reference-only</td>"))
    }

    @Test("A prediction on another grid fails its case with both grids named and the option that fixes it")
    func gridMismatch() throws {
        let root = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(root) }
        try PipelineFixtures.makeArchive(root + "/archive", count: 1)
        let text = Self.pipeline.replacingOccurrences(of: #"{ "id": "bright", "type": "threshold", "source": "ct", "lower": 300 },"#,
            with: #"{ "id": "coarse", "type": "resample", "source": "ct", "spacing": [2, 2, 2] }, { "id": "bright", "type": "threshold", "source": "coarse", "lower": 300 },"#)
        let path = try PipelineFixtures.writePipeline(text, in: root)
        let spec = try PipelineValidator(registry: PipelineFixtures.registry).load(path)
        let summary = try Runner(spec: spec, registry: PipelineFixtures.registry)
            .run(RunOptions(archive: root + "/archive", output: root + "/out"), progress: ProgressReporter(style: .quiet))
        #expect(summary.failed == 1)
        let reason = summary.failures.first?.error?.message ?? ""
        #expect(reason.contains("is not on the grid of \"mask\"") && reason.contains("resamplePrediction"), "\(reason)")
        let fixed = text.replacingOccurrences(of: #""tolerance": 1.5"#, with: #""tolerance": 1.5, "resamplePrediction": true"#)
        let spec2 = try PipelineValidator(registry: PipelineFixtures.registry).load(try PipelineFixtures.writePipeline(fixed, in: root, name: "fixed.json"))
        let summary2 = try Runner(spec: spec2, registry: PipelineFixtures.registry)
            .run(RunOptions(archive: root + "/archive", output: root + "/out2"), progress: ProgressReporter(style: .quiet))
        #expect(summary2.succeeded == 1)
    }
}
