import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelSupport
import VoxelTransforms

/// `evaluate`: compares a label map with a reference segmentation of the same case, label by label (Dice, IoU,
/// precision, sensitivity, specificity, volumes, Hausdorff and its percentile, ASSD, normalised surface Dice), writes
/// the case's `metrics.csv` and puts the same numbers into the case report. The run gathers every case's rows into
/// its own `metrics.csv` and `metrics-summary.csv` (see `EvaluationIndex`).
struct EvaluateStage: Stage {
    static let definition = StageDefinition(
        type: "evaluate", category: .analysis,
        summary: "Compare a label map with a reference segmentation of the case, per label: Dice, IoU, precision, sensitivity, specificity, volumes (mm³) and their difference and similarity, Hausdorff distance and its 95th percentile, average symmetric surface distance and normalised surface Dice (world mm, exact distance transforms). Writes the case's metrics.csv and a report section; the run adds metrics.csv and metrics-summary.csv (mean, std, percentiles over cases).",
        parameters: [
            ParameterSpec("prediction", .reference([.labels]), doc: "the label map to judge (e.g. a segment stage's output)"),
            ParameterSpec("reference", .reference([.labels]), doc: "the reference segmentation (e.g. a nifti input of kind \"labels\"), on the same grid"),
            ParameterSpec("labels", .array(of: .integer(1...65535), count: 1...65535), optional: true,
                          doc: "label values to measure; default: the labels of the label table (this stage's, else the one a segment stage attached to the prediction), else every non-zero label in either map; listed labels absent from both maps are reported as such"),
            ParameterSpec("labelTable", .labelTable, optional: true,
                          doc: "label table (a JSON file, or inline) whose labels are measured (unless \"labels\" is given) and whose names go into the tables; without it, the table a segment stage attached to the prediction"),
            ParameterSpec("tolerance", .number(0...1000), default: .int(1), doc: "normalised surface Dice tolerance in mm"),
            ParameterSpec("percentile", .number(0...100), default: .int(95), doc: "the Hausdorff distance percentile reported beside the maximum"),
            ParameterSpec("surfaceMetrics", .boolean, default: .bool(true), doc: "compute the surface metrics (Hausdorff, percentile, ASSD, surface Dice); false keeps only overlap and volume metrics"),
            ParameterSpec("resamplePrediction", .boolean, default: .bool(false),
                          doc: "when the prediction is on another grid than the reference, resample it nearest-neighbour onto the reference grid (otherwise that is an error)"),
            ParameterSpec("path", .outputPath, default: .string("metrics.csv"), doc: "the case's metrics table inside its folder, gathered into the run's metrics.csv"),
        ],
        produces: .kind(.report),
        make: { c in
            let options = SegmentationEvaluationOptions(labels: c.parameters.values["labels"] == nil ? nil : try c.ints("labels"),
                                                        tolerance: try c.double("tolerance"), percentile: try c.double("percentile"),
                                                        surfaceMetrics: try c.bool("surfaceMetrics"))
            return EvaluateStage(id: c.id, prediction: try c.string("prediction"), reference: try c.string("reference"),
                                 table: try c.labelTable(), options: options, resample: try c.bool("resamplePrediction"),
                                 path: try c.string("path"))
        })

    let id: String
    let prediction: String
    let reference: String
    let table: LabelTable?
    let options: SegmentationEvaluationOptions
    let resample: Bool
    let path: String

    func run(_ context: inout CaseContext) throws -> StageValue? {
        var predicted = try context.labels(prediction)
        let truth = try context.labels(reference)
        if resample && predicted.geometry != truth.geometry {
            predicted = try LabelMap(ResampleToGrid(target: truth.geometry, interpolation: .nearest).apply(predicted.volume))
        }
        let labelTable = table ?? context.labelTables[prediction]
        var options = self.options
        if options.labels == nil, let labelTable { options.labels = labelTable.labels.map(\.value).sorted() }
        let evaluation: SegmentationEvaluation
        do {
            evaluation = try SegmentationEvaluator.evaluate(prediction: predicted, reference: truth, options: options)
        } catch .gridMismatch(let p, let r) {
            throw CaseError.gridMismatch("stage \(id): \"\(prediction)\" is not on the grid of \"\(reference)\" "
                + "(\(EvaluateStage.describe(p)) against \(EvaluateStage.describe(r))); set \"resamplePrediction\": true to resample it")
        } catch {
            throw CaseError.invalidParameters(stage: id, reason: "\"\(prediction)\" against \"\(reference)\": \(error)")
        }
        var names: [Int: String] = [:]
        for label in labelTable?.labels ?? [] { names[label.value] = label.name }
        let rows = EvaluationTable.rows(caseID: context.caseID, evaluation, names: names)
        try context.writeText(EvaluationTable.csv(header: EvaluationTable.header(options), rows: rows),
                              to: context.outputName(path, id: id))
        return .report(EvaluationTable.json(evaluation, names: names, prediction: prediction, reference: reference))
    }

    static func describe(_ g: Geometry) -> String {
        "\(g.size.x)×\(g.size.y)×\(g.size.z) voxels of \(g.spacing.x)×\(g.spacing.y)×\(g.spacing.z) mm at \(g.origin.x), \(g.origin.y), \(g.origin.z)"
    }
}
