import VoxelCore
import VoxelIO
import VoxelTransforms

/// `write-dicom-seg`: writes a label map as a DICOM SEG on the case's DICOM series, whatever spatial stages
/// ran before (the labels are put back on the series' grid, nearest neighbour, when they are elsewhere).
struct WriteDICOMSegStage: Stage {
    static let definition = StageDefinition(
        type: "write-dicom-seg", category: .writer,
        summary: "Write a label map as a DICOM Segmentation (SEG, BINARY or LABELMAP) on the case's DICOM series, for PACS viewers.",
        parameters: [
            CommonParameters.source([.labels], doc: "the label map to write (put back on the series' grid when it is elsewhere)"),
            ParameterSpec("reference", .reference([.image]), doc: "the case's dicom-series input the SEG refers to"),
            ParameterSpec("path", .outputPath, default: .string("{id}.dcm"), doc: "file inside the case folder; .dcm"),
            ParameterSpec("labelTable", .existingFile, optional: true, doc: "label table (JSON) with names, colours and SNOMED CT codes; labels not in it are \"Label N\""),
            ParameterSpec("format", .choice(["binary", "labelmap"]), default: .string("binary"), doc: "binary: one 1-bit frame per segment and slice (every viewer with SEG support); labelmap: one frame per slice holding segment numbers (Label Map Segmentation, 2024; smaller, newer viewers)"),
            ParameterSpec("algorithm", .string, default: .string("VoxelFlow"), doc: "SegmentAlgorithmName (e.g. the model's name)"),
            ParameterSpec("keepEmptyFrames", .boolean, default: .bool(false), doc: "write every slice of every segment, empty or not"),
        ],
        produces: .nothing,
        make: { c in
            let path = try c.string("path")
            guard path.hasSuffix(".dcm") else { throw CaseError.invalidParameters(stage: c.id, reason: "path \"\(path)\" must end in .dcm") }
            let table = try c.parameters.string("labelTable").map { file in
                try LabelTable.read(file.hasPrefix("/") ? file : "\(c.pipelineDirectory)/\(file)")
            }
            var options = DICOMSegmentationOptions()
            options.algorithmName = try c.string("algorithm")
            options.type = try c.string("format") == "labelmap" ? .labelMap : .binary
            options.keepEmptyFrames = try c.bool("keepEmptyFrames")
            return WriteDICOMSegStage(id: c.id, source: try c.string("source"), reference: try c.string("reference"),
                                      path: path, table: table, options: options)
        })

    let id: String
    let source: String
    let reference: String
    let path: String
    let table: LabelTable?
    let options: DICOMSegmentationOptions

    func run(_ context: inout CaseContext) throws -> StageValue? {
        guard case .dicomSeries(let stack, _)? = context.inputs[reference]?.source else {
            throw CaseError.wrongKind(id: reference, found: "not a DICOM series", needed: "a dicom-series input", hint: "a SEG refers to the DICOM series it segments")
        }
        var labels = try context.labels(source)
        if labels.labelsPresent().allSatisfy({ $0 == 0 }) {
            // DICOM SEG needs at least one segment with one frame: an empty result is recorded, not written.
            context.warnings.append("\(source): no label, so no DICOM SEG was written")
            return nil
        }
        let grid = stack.geometry()
        if labels.geometry.size != grid.size || labels.geometry.affine.maxAbsDifference(to: grid.affine) >= 1e-3 {
            labels = try LabelMap(ResampleToGrid(target: grid, interpolation: .nearest).apply(labels.volume))
        }
        let file = try context.outputFile(context.outputName(path, id: id))
        try DICOMSegmentation.write(labels, reference: stack, table: table, to: file, options: options)
        return nil
    }
}

/// `write-rtstruct`: writes a label map as a DICOM RT Structure Set on the case's DICOM series (labels put
/// back on the series' grid, nearest neighbour, when they are elsewhere).
struct WriteRTStructStage: Stage {
    static let definition = StageDefinition(
        type: "write-rtstruct", category: .writer,
        summary: "Write a label map as a DICOM RT Structure Set (RTSTRUCT) on the case's DICOM series, for radiotherapy planning systems.",
        parameters: [
            CommonParameters.source([.labels], doc: "the label map to write (put back on the series' grid when it is elsewhere)"),
            ParameterSpec("reference", .reference([.image]), doc: "the case's dicom-series input the contours are drawn on"),
            ParameterSpec("path", .outputPath, default: .string("{id}.dcm"), doc: "file inside the case folder; .dcm"),
            ParameterSpec("labelTable", .existingFile, optional: true, doc: "label table (JSON) with ROI names and colours; labels not in it are \"Label N\""),
            ParameterSpec("interpretedType", .string, default: .string("ORGAN"), doc: "RTROIInterpretedType of every ROI (ORGAN, PTV, GTV, AVOIDANCE, …)"),
        ],
        produces: .nothing,
        make: { c in
            let path = try c.string("path")
            guard path.hasSuffix(".dcm") else { throw CaseError.invalidParameters(stage: c.id, reason: "path \"\(path)\" must end in .dcm") }
            let table = try c.parameters.string("labelTable").map { file in
                try LabelTable.read(file.hasPrefix("/") ? file : "\(c.pipelineDirectory)/\(file)")
            }
            var options = DICOMRTStructOptions()
            options.interpretedType = try c.string("interpretedType")
            return WriteRTStructStage(id: c.id, source: try c.string("source"), reference: try c.string("reference"),
                                      path: path, table: table, options: options)
        })

    let id: String
    let source: String
    let reference: String
    let path: String
    let table: LabelTable?
    let options: DICOMRTStructOptions

    func run(_ context: inout CaseContext) throws -> StageValue? {
        guard case .dicomSeries(let stack, _)? = context.inputs[reference]?.source else {
            throw CaseError.wrongKind(id: reference, found: "not a DICOM series", needed: "a dicom-series input", hint: "an RTSTRUCT refers to the DICOM series it was drawn on")
        }
        var labels = try context.labels(source)
        if labels.labelsPresent().allSatisfy({ $0 == 0 }) {
            context.warnings.append("\(source): no label, so no RTSTRUCT was written")
            return nil
        }
        let grid = stack.geometry()
        if labels.geometry.size != grid.size || labels.geometry.affine.maxAbsDifference(to: grid.affine) >= 1e-3 {
            labels = try LabelMap(ResampleToGrid(target: grid, interpolation: .nearest).apply(labels.volume))
        }
        let file = try context.outputFile(context.outputName(path, id: id))
        try DICOMRTStruct.write(labels, reference: stack, table: table, to: file, options: options)
        return nil
    }
}
