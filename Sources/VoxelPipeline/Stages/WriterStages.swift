import VoxelCore
import VoxelIO
import VoxelTransforms
import VoxelSupport

/// `write-nifti`: writes an image or label map as NIfTI, optionally back on the grid of another value.
struct WriteNIfTIStage: Stage {
    static let definition = StageDefinition(
        type: "write-nifti", category: .writer,
        summary: "Write an image or label map as NIfTI (.nii or .nii.gz), optionally resampled onto the grid of another value first.",
        parameters: [
            CommonParameters.source(doc: "the image or label map to write"),
            ParameterSpec("path", .outputPath, default: .string("{id}.nii.gz"), doc: "file inside the case folder; .nii or .nii.gz"),
            ParameterSpec("grid", .reference([.image, .labels]), optional: true,
                          doc: "write on this value's grid (e.g. the original scan): labels nearest-neighbour, images linear; world coordinates are kept"),
            ParameterSpec("compression", .integer(1...12), default: .int(6), doc: "gzip level for .nii.gz, 1 (fastest) to 12 (smallest)"),
        ],
        produces: .nothing,
        make: { c in
            let path = try c.string("path")
            guard path.hasSuffix(".nii") || path.hasSuffix(".nii.gz") else {
                throw CaseError.invalidParameters(stage: c.id, reason: "path \"\(path)\" must end in .nii or .nii.gz")
            }
            return WriteNIfTIStage(id: c.id, source: try c.string("source"), path: path,
                                   grid: c.parameters.string("grid"), level: try c.int("compression"))
        })

    let id: String
    let source: String
    let path: String
    let grid: String?
    let level: Int

    func run(_ context: inout CaseContext) throws -> StageValue? {
        var volume: Volume
        var isLabels = false
        switch try context.value(source) {
        case .image(let v): volume = v
        case .labels(let l): volume = l.volume; isLabels = true
        case .report: throw CaseError.wrongKind(id: source, found: "a report", needed: "an image or label map", hint: "write it with write-report")
        }
        if let grid {
            let target = try context.geometry(grid)
            if target != volume.geometry {
                volume = try ResampleToGrid(target: target, interpolation: isLabels ? .nearest : .linear).apply(volume)
            }
        }
        var options = NIfTIWriteOptions()
        options.compressionLevel = level
        if isLabels {
            // A label map says what it is, and does not carry the description of the scan it came from.
            options.intentCode = NIfTIWriteOptions.labelIntent
            options.intentName = "labels"
            volume.metadata.description = nil
        }
        let size = volume.geometry.size
        if [size.x, size.y, size.z, volume.timePoints].contains(where: { $0 > Int(Int16.max) }) { options.version = 2 }
        let file = try context.outputFile(context.outputName(path, id: id))
        try NIfTI.write(volume, to: file, options: options)
        return nil
    }
}

/// `write-report`: the case report as JSON.
struct WriteReportStage: Stage {
    static let definition = StageDefinition(
        type: "write-report", category: .writer,
        summary: "Write the case report (JSON): the inputs' geometry and every report section produced by earlier stages.",
        parameters: [
            ParameterSpec("path", .outputPath, default: .string("report.json"), doc: "file inside the case folder"),
            ParameterSpec("pipeline", .string, optional: true, doc: "pipeline name recorded in the report (default: the pipeline's name)"),
        ],
        produces: .nothing,
        make: { c in WriteReportStage(id: c.id, path: try c.string("path"), pipelineName: c.parameters.string("pipeline")) })

    let id: String
    let path: String
    let pipelineName: String?

    func run(_ context: inout CaseContext) throws -> StageValue? {
        var inputs: [(String, JSON)] = []
        for name in context.inputs.keys.sorted() {
            guard let input = context.inputs[name] else { continue }
            var members: [(String, JSON)] = []
            if case .object(let record) = input.record { members = record }
            // Inputs no earlier stage used are loaded now: the report describes every input.
            if context.inputSummaries[name] == nil { _ = try context.value(name) }
            members += context.inputSummaries[name] ?? []
            inputs.append((name, .object(members)))
        }
        var report: [(String, JSON)] = [("case", .string(context.caseID))]
        report.append(("pipeline", .object([
            ("name", .string(pipelineName ?? context.pipeline.name)),
            ("sha256", .string(context.pipeline.sha256)),
            ("formatVersion", .int(PipelineSpec.formatVersion)),
        ])))
        if !context.pipeline.tool.isEmpty { report.append(("tool", .string(context.pipeline.tool))) }
        report += [
            ("inputs", .object(inputs)),
            ("results", .object(context.reports)),
            ("warnings", .array(context.warnings.map { .string($0) })),
        ]
        if !context.skipped.isEmpty {
            report.append(("skipped", .array(context.skipped.map { .object([("stage", .string($0.stage)), ("reason", .string($0.reason))]) })))
        }
        try context.writeText(JSON.object(report).serialized() + "\n", to: context.outputName(path, id: id))
        return nil
    }
}

/// Geometry and intensity summary of a volume for reports.
public enum ImageDescription {
    /// Size, spacing (mm), orientation code, LPS affine, voxel type, unit and value range.
    public static func json(_ v: Volume) -> [(String, JSON)] {
        let g = v.geometry
        var members: [(String, JSON)] = [
            ("size", .array([.int(g.size.x), .int(g.size.y), .int(g.size.z)] + (v.timePoints > 1 ? [.int(v.timePoints)] : []))),
            ("spacingMM", .numbers([g.spacing.x, g.spacing.y, g.spacing.z].map(round6))),
            ("orientation", .string(g.orientationCode)),
            ("affineLPS", .array(g.affine.rows.prefix(3).map { .numbers($0.map(round6)) })),
            ("voxelType", .string(v.voxelType.rawValue)),
        ]
        if let u = v.metadata.intensityUnit { members.append(("unit", .string(u))) }
        if let r = v.physicalRange() { members.append(("range", .numbers([r.lowerBound, r.upperBound].map(round6)))) }
        return members
    }

    static func round6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
}
