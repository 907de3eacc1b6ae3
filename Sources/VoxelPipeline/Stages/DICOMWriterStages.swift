import Foundation
import VoxelCore
import VoxelIO
import VoxelTransforms

/// What the DICOM writer stages share: the case's series, the label map on its grid, the label table.
enum DICOMWriterSupport {
    /// The stack of the `dicom-series` input `reference` and the label map `source` put on its grid
    /// (nearest neighbour) when it lies elsewhere; nil (with a warning) when the map holds no label and
    /// `emptyWarning` is given.
    static func seriesAndLabels(_ context: inout CaseContext, reference: String, source: String, purpose: String,
                                emptyWarning: String?) throws -> (DICOMStack, LabelMap)? {
        let stack = try series(context, reference: reference, purpose: purpose)
        var labels = try context.labels(source)
        if let emptyWarning, labels.labelsPresent().allSatisfy({ $0 == 0 }) {
            context.warnings.append("\(source): \(emptyWarning)")
            return nil
        }
        let grid = stack.geometry()
        if labels.geometry.size != grid.size || labels.geometry.affine.maxAbsDifference(to: grid.affine) >= 1e-3 {
            labels = try LabelMap(ResampleToGrid(target: grid, interpolation: .nearest).apply(labels.volume))
        }
        return (stack, labels)
    }

    /// The stack of the case's `dicom-series` input `reference`.
    /// - Throws: `CaseError.wrongKind` naming `purpose` when `reference` is not a DICOM series input.
    static func series(_ context: CaseContext, reference: String, purpose: String) throws -> DICOMStack {
        guard case .dicomSeries(let stack, _)? = context.inputs[reference]?.source else {
            throw CaseError.wrongKind(id: reference, found: "not a DICOM series", needed: "a dicom-series input", hint: purpose)
        }
        return stack
    }

    /// The stage's `labelTable` (a file or inline), or nil.
    static func table(_ c: StageConfiguration) throws -> LabelTable? { try c.labelTable() }
}

/// What `write-dicom-seg` and `write-rtstruct` share around their writers: the label map, the series, the
/// file inside the case folder, the label table and de-identification.
struct DICOMLabelObjectWriter: Sendable {
    let id: String
    let source: String
    let reference: String
    let path: String
    let table: LabelTable?
    let deidentifier: DICOMDeidentifier?

    /// The parameters every such stage takes first.
    static func parameters(reference: String, labelTable: String) -> [ParameterSpec] {
        [
            CommonParameters.source([.labels], doc: "the label map to write (put back on the series' grid when it is elsewhere)"),
            ParameterSpec("reference", .reference([.image]), doc: reference),
            ParameterSpec("path", .outputPath, default: .string("{id}.dcm"), doc: "file inside the case folder; .dcm"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: labelTable),
        ]
    }

    init(_ c: StageConfiguration) throws {
        let path = try c.string("path")
        guard path.hasSuffix(".dcm") else { throw CaseError.invalidParameters(stage: c.id, reason: "path \"\(path)\" must end in .dcm") }
        (id, source, reference, self.path) = (c.id, try c.string("source"), try c.string("reference"), path)
        table = try DICOMWriterSupport.table(c)
        deidentifier = try DeidentificationSupport.deidentifier(c)
    }

    /// Writes the object with `write(labels, series, table, file)`, then de-identifies it when asked. An
    /// object needs at least one label: an empty map is recorded as a warning and nothing is written.
    func run(_ context: inout CaseContext, object: String, purpose: String,
             write: (LabelMap, DICOMStack, LabelTable?, String) throws -> Void) throws {
        guard let (stack, labels) = try DICOMWriterSupport.seriesAndLabels(&context, reference: reference, source: source, purpose: purpose,
                                                                          emptyWarning: "no label, so no \(object) was written") else { return }
        let file = try context.outputFile(context.outputName(path, id: id))
        try write(labels, stack, table ?? context.labelTables[source], file)
        try DeidentificationSupport.apply(deidentifier, to: [file], stage: id)
    }
}

/// `write-dicom-seg`: writes a label map as a DICOM SEG on the case's DICOM series, whatever spatial stages
/// ran before (the labels are put back on the series' grid, nearest neighbour, when they are elsewhere).
struct WriteDICOMSegStage: Stage {
    static let definition = StageDefinition(
        type: "write-dicom-seg", category: .writer,
        summary: "Write a label map as a DICOM Segmentation (SEG, BINARY or LABELMAP) on the case's DICOM series, for PACS viewers.",
        parameters: DICOMLabelObjectWriter.parameters(
            reference: "the case's dicom-series input the SEG refers to",
            labelTable: "label table (a JSON file, or inline) with names, colours and SNOMED CT codes; labels not in it are \"Label N\"") + [
            ParameterSpec("format", .choice(["binary", "labelmap"]), default: .string("binary"), doc: "binary: one 1-bit frame per segment and slice (every viewer with SEG support); labelmap: one frame per slice holding segment numbers (Label Map Segmentation, 2024; smaller, newer viewers)"),
            ParameterSpec("algorithm", .string, default: .string("VoxelFlow"), doc: "SegmentAlgorithmName (e.g. the model's name)"),
            ParameterSpec("keepEmptyFrames", .boolean, default: .bool(false), doc: "write every slice of every segment, empty or not"),
        ] + DeidentificationSupport.writerParameters,
        produces: .nothing,
        make: { c in
            var options = DICOMSegmentationOptions()
            options.algorithmName = try c.string("algorithm")
            options.type = try c.string("format") == "labelmap" ? .labelMap : .binary
            options.keepEmptyFrames = try c.bool("keepEmptyFrames")
            return WriteDICOMSegStage(writer: try DICOMLabelObjectWriter(c), options: options)
        })

    let writer: DICOMLabelObjectWriter
    let options: DICOMSegmentationOptions
    var id: String { writer.id }

    func run(_ context: inout CaseContext) throws -> StageValue? {
        try writer.run(&context, object: "DICOM SEG", purpose: "a SEG refers to the DICOM series it segments") { labels, stack, table, file in
            try DICOMSegmentation.write(labels, reference: stack, table: table, to: file, options: options)
        }
        return nil
    }
}

/// `write-rtstruct`: writes a label map as a DICOM RT Structure Set on the case's DICOM series (labels put
/// back on the series' grid, nearest neighbour, when they are elsewhere).
struct WriteRTStructStage: Stage {
    static let definition = StageDefinition(
        type: "write-rtstruct", category: .writer,
        summary: "Write a label map as a DICOM RT Structure Set (RTSTRUCT) on the case's DICOM series, for radiotherapy planning systems.",
        parameters: DICOMLabelObjectWriter.parameters(
            reference: "the case's dicom-series input the contours are drawn on",
            labelTable: "label table (a JSON file, or inline) with ROI names and colours; labels not in it are \"Label N\"") + [
            ParameterSpec("interpretedType", .string, default: .string("ORGAN"), doc: "RTROIInterpretedType of every ROI (ORGAN, PTV, GTV, AVOIDANCE, …)"),
        ] + DeidentificationSupport.writerParameters,
        produces: .nothing,
        make: { c in
            var options = DICOMRTStructOptions()
            options.interpretedType = try c.string("interpretedType")
            return WriteRTStructStage(writer: try DICOMLabelObjectWriter(c), options: options)
        })

    let writer: DICOMLabelObjectWriter
    let options: DICOMRTStructOptions
    var id: String { writer.id }

    func run(_ context: inout CaseContext) throws -> StageValue? {
        try writer.run(&context, object: "RTSTRUCT", purpose: "an RTSTRUCT refers to the DICOM series it was drawn on") { labels, stack, table, file in
            try DICOMRTStruct.write(labels, reference: stack, table: table, to: file, options: options)
        }
        return nil
    }
}

/// `write-overlay-series`: a Secondary Capture series with the label outlines burned into copies of the
/// case's DICOM slices, for PACS that cannot show DICOM SEG.
struct WriteOverlaySeriesStage: Stage {
    static let definition = StageDefinition(
        type: "write-overlay-series", category: .writer,
        summary: "Write a DICOM Secondary Capture series: every slice of the case's DICOM series windowed to grey, with the label outlines in their colours and a legend burned in (for PACS without DICOM SEG support).",
        parameters: [
            CommonParameters.source([.labels], doc: "the label map to draw (put back on the series' grid when it is elsewhere)"),
            ParameterSpec("reference", .reference([.image]), doc: "the case's dicom-series input whose slices are copied"),
            ParameterSpec("path", .outputPath, default: .string("overlay"), doc: "folder inside the case folder that receives SC0001.dcm, SC0002.dcm, …"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: "label table (a JSON file, or inline) with names and colours"),
            ParameterSpec("window", .string, default: .string("auto"), doc: "display window: auto (CT soft tissue 40/400, else the 1st–99th percentile), soft-tissue, brain, bone, lung, or \"LEVEL,WIDTH\""),
        ] + DeidentificationSupport.writerParameters,
        produces: .nothing,
        make: { c in
            let table = try DICOMWriterSupport.table(c)
            let window = try c.string("window")
            guard window == "auto" || DisplayWindow.presets[window] != nil || DisplayWindow.parse(window) != nil else {
                throw CaseError.invalidParameters(stage: c.id, reason: "window \"\(window)\" is not auto, soft-tissue, brain, bone, lung or \"LEVEL,WIDTH\" with a positive width")
            }
            return WriteOverlaySeriesStage(id: c.id, source: try c.string("source"), reference: try c.string("reference"),
                                           path: try c.string("path"), table: table, window: window,
                                           deidentifier: try DeidentificationSupport.deidentifier(c, includeBurnedIn: true))
        })

    let id: String
    let source: String
    let reference: String
    let path: String
    let table: LabelTable?
    let window: String
    let deidentifier: DICOMDeidentifier?

    func run(_ context: inout CaseContext) throws -> StageValue? {
        guard let (stack, labels) = try DICOMWriterSupport.seriesAndLabels(&context, reference: reference, source: source,
                                                                          purpose: "the overlay copies the slices of the case's DICOM series",
                                                                          emptyWarning: nil) else { return nil }
        let display = window == "auto" ? DisplayWindow.automatic(for: try context.image(reference)) : (DisplayWindow.presets[window] ?? DisplayWindow.parse(window))
        let w = display ?? DisplayWindow(level: 40, width: 400)
        let folder = try context.outputFile(context.outputName(path, id: id))
        try DICOMOverlaySeries.write(labels, reference: stack, table: table ?? context.labelTables[source], window: (w.level, w.width), to: folder)
        let written = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".dcm") }.sorted()
        try DeidentificationSupport.apply(deidentifier, to: written.map { folder + "/" + $0 }, stage: id)
        return nil
    }
}

/// `write-dicom-sr`: a DICOM Structured Report (TID 1500 Measurement Report) of the segments of a SEG an
/// earlier `write-dicom-seg` stage wrote in the case folder: per segment its volume and the series' mean,
/// standard deviation, minimum and maximum inside it (HU for CT), referencing the SEG's segments and the series.
struct WriteDICOMSRStage: Stage {
    static let definition = StageDefinition(
        type: "write-dicom-sr", category: .writer,
        summary: "Write a DICOM Structured Report (TID 1500 Measurement Report) of the segments of a SEG written earlier in the case: volume and intensity statistics per segment, for PACS viewers and archives.",
        parameters: [
            ParameterSpec("reference", .reference([.image]), doc: "the case's dicom-series input the SEG segments (its voxels are measured)"),
            ParameterSpec("seg", .string, doc: "the SEG inside the case folder, as the write-dicom-seg stage's path names it ({case} allowed), e.g. \"bone_seg.dcm\"; a SEG the stage de-identified no longer matches the series: report on it with `voxelflow export-sr` and the series de-identified with the same key"),
            ParameterSpec("path", .outputPath, default: .string("{id}.dcm"), doc: "file inside the case folder; .dcm"),
            ParameterSpec("intensities", .boolean, default: .bool(true), doc: "also report the series' mean, standard deviation, minimum and maximum inside each segment (HU for CT); false reports volumes only"),
            ParameterSpec("seriesDescription", .string, default: .string("VoxelFlow measurements"), doc: "SeriesDescription of the report"),
        ],
        produces: .nothing,
        make: { c in
            let path = try c.string("path"), seg = try c.string("seg")
            guard path.hasSuffix(".dcm") else { throw CaseError.invalidParameters(stage: c.id, reason: "path \"\(path)\" must end in .dcm") }
            guard !seg.isEmpty, !seg.hasPrefix("/"), !seg.split(separator: "/").contains("..") else {
                throw CaseError.invalidParameters(stage: c.id, reason: "seg \"\(seg)\" must name a file inside the case folder")
            }
            return WriteDICOMSRStage(id: c.id, reference: try c.string("reference"), seg: seg, path: path,
                                     intensities: try c.bool("intensities"), seriesDescription: try c.string("seriesDescription"))
        })

    let id: String
    let reference: String
    let seg: String
    let path: String
    let intensities: Bool
    let seriesDescription: String

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let stack = try DICOMWriterSupport.series(context, reference: reference,
                                                  purpose: "a measurement report refers to the DICOM series its SEG segments")
        let segFile = "\(context.stagingDirectory)/\(context.outputName(seg, id: id))"
        guard FileManager.default.fileExists(atPath: segFile) else {
            // The SEG stage writes nothing for an empty label map; then there is nothing to measure either.
            context.warnings.append("\(id): no SEG \(context.outputName(seg, id: id)) in the case folder, so no measurement report was written")
            return nil
        }
        var image: Volume?
        if intensities {
            let loaded = try context.image(reference), grid = stack.geometry()
            let onGrid = loaded.geometry.size == grid.size && loaded.geometry.affine.maxAbsDifference(to: grid.affine) < 1e-3
            image = onGrid ? loaded : try stack.volume()
        }
        let measurements = try DICOMMeasurementReport.measure(seg: segFile, reference: stack, image: image)
        let file = try context.outputFile(context.outputName(path, id: id))
        try DICOMMeasurementReport.write(measurements, seg: segFile, reference: stack, to: file, seriesDescription: seriesDescription)
        return nil
    }
}
