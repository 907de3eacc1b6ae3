import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// `write-html-report`: a self-contained HTML page per case with, for every structure of a label map, its
/// volume and intensity and pictures through its centroid; a thumbnail for the batch index; a CSV table of
/// the structures. The same numbers go into the case's JSON report (this stage's section).
struct WriteHTMLReportStage: Stage {
    static let definition = StageDefinition(
        type: "write-html-report", category: .writer,
        summary: "Write report.html: per structure its volume (mL), voxels, mean intensity and axial, coronal and sagittal pictures through its centroid with outlines in the label colours, orientation letters and a scale bar; plus a thumbnail and structures.csv. The numbers also go into the JSON report.",
        parameters: [
            CommonParameters.source([.labels], doc: "the label map to report (on any grid: pictures are drawn in world coordinates)"),
            ParameterSpec("image", .reference([.image]), doc: "the scan the pictures show (an input or an earlier stage)"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: "label table (a JSON file, or inline) with names and colours; labels not in it are \"Label N\""),
            ParameterSpec("path", .outputPath, default: .string("report.html"), doc: "the HTML file inside the case folder"),
            ParameterSpec("thumbnail", .outputPath, default: .string("thumbnail.png"), doc: "a small axial picture for the batch index (index.html)"),
            ParameterSpec("table", .outputPath, default: .string("structures.csv"), doc: "CSV of the structures (value, name, voxels, volume_ml, mean_intensity, touches_border), gathered into the batch's summary.csv"),
            ParameterSpec("window", .string, default: .string("auto"), doc: "display window: auto (CT soft tissue 40/400, else the 1st–99th percentile), soft-tissue, brain, bone, lung, or \"LEVEL,WIDTH\""),
            ParameterSpec("style", .choice(["outline", "fill"]), default: .string("fill"), doc: "outline: coloured contours only; fill: contours and a semi-transparent fill"),
            ParameterSpec("maxStructures", .integer(0...1000), default: .int(40), doc: "structures that get pictures (the rest are in the table only)"),
        ],
        produces: .kind(.report),
        make: { c in
            let table = try DICOMWriterSupport.table(c)
            let window = try c.string("window")
            guard window == "auto" || DisplayWindow.presets[window] != nil || parseWindow(window) != nil else {
                throw CaseError.invalidParameters(stage: c.id, reason: "window \"\(window)\" is not auto, soft-tissue, brain, bone, lung or \"LEVEL,WIDTH\" with a positive width")
            }
            return WriteHTMLReportStage(id: c.id, source: try c.string("source"), image: try c.string("image"), table: table,
                                        path: try c.string("path"), thumbnail: try c.string("thumbnail"), csv: try c.string("table"),
                                        window: window, fill: try c.string("style") == "fill", maxStructures: try c.int("maxStructures"))
        })

    let id: String
    let source: String
    let image: String
    let table: LabelTable?
    let path: String
    let thumbnail: String
    let csv: String
    let window: String
    let fill: Bool
    let maxStructures: Int

    static func parseWindow(_ text: String) -> DisplayWindow? { DisplayWindow.parse(text) }

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let labels = try context.labels(source)
        let scan = try context.image(image)
        let display = window == "auto" ? DisplayWindow.automatic(for: scan) : (DisplayWindow.presets[window] ?? Self.parseWindow(window) ?? DisplayWindow.automatic(for: scan))
        let structures = StructureSummary.all(labels: labels, image: scan, table: table ?? context.labelTables[source])
        guard let renderer = SliceRenderer(image: scan, labels: labels, window: display) else {
            throw CaseError.invalidParameters(stage: id, reason: "the image or the label map has a degenerate grid")
        }
        var colors: [Int: [Int]] = [:]
        for s in structures { colors[s.value] = s.color }
        var figures: [Int: [String]] = [:]
        for s in structures.prefix(maxStructures) {
            figures[s.value] = try ReportView.allCases.map { view in
                let picture = renderer.picture(view, through: s.centroid, highlight: s.value, colors: colors, fill: fill)
                let png = try PNG.encode(rgb: picture.rgb, width: picture.width, height: picture.height)
                let c = s.centroid
                let position = switch view {
                case .axial: "z = \(JSON.format(StructureSummary.round6(c.z))) mm"
                case .coronal: "y = \(JSON.format(StructureSummary.round6(c.y))) mm"
                case .sagittal: "x = \(JSON.format(StructureSummary.round6(c.x))) mm"
                }
                return HTMLReport.figure(picture, png: png, caption: "\(view.rawValue.capitalized), \(position) (LPS)",
                                         alt: "\(view.rawValue) slice through the centroid of \(s.name)")
            }
        }
        let html = HTMLReport.casePage(caseID: context.caseID, pipeline: context.pipeline.name, window: display, structures: structures,
                                       figures: figures, warnings: context.warnings, omitted: max(0, structures.count - maxStructures))
        try context.writeText(html, to: context.outputName(path, id: id))
        // Thumbnail: axial, through the centroid of all labelled voxels, every outline.
        var total = 0
        var weighted = SIMD3<Double>.zero
        for s in structures {
            total += s.voxels
            weighted += s.centroid * Double(s.voxels)
        }
        let size = scan.geometry.size
        let middle = SIMD3(Double(size.x - 1), Double(size.y - 1), Double(size.z - 1)) / 2
        let centre = total > 0 ? weighted / Double(total) : scan.geometry.affine.apply(middle)
        let thumb = renderer.picture(.axial, through: centre, highlight: nil, colors: colors, fill: false, maxSize: 160)
        let thumbFile = try context.outputFile(context.outputName(thumbnail, id: id))
        try AtomicFile.write(try PNG.encode(rgb: thumb.rgb, width: thumb.width, height: thumb.height), to: thumbFile)
        var rows = ["value,name,voxels,volume_ml,mean_intensity,touches_border"]
        for s in structures {
            rows.append("\(s.value),\(Self.csvField(s.name)),\(s.voxels),\(JSON.format(s.volumeML)),\(s.meanIntensity.map(JSON.format) ?? ""),\(s.touchesBorder)")
        }
        try context.writeText(rows.joined(separator: "\n") + "\n", to: context.outputName(csv, id: id))
        if structures.isEmpty { context.warnings.append("\(source): no label, so the report shows no structure") }
        return .report(.object([
            ("html", .string(context.outputName(path, id: id))),
            ("window", .object([("level", .number(display.level)), ("width", .number(display.width))])),
            ("structures", .array(structures.map { (s: StructureSummary) in s.json })),
        ]))
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
