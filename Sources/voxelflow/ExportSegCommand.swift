import ArgumentParser
import VoxelCore
import VoxelIO
import VoxelTransforms

struct ExportSegCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-seg",
        abstract: "Write a label map as a DICOM Segmentation (SEG) that viewers open on its source series.",
        discussion: """
        LABELS is a label map (NIfTI) on the grid of the DICOM series in --reference (a folder; --series picks \
        one of several, as in `convert`). Each label becomes a segment named, coloured and coded from \
        --labels (a label table: {"labels": [{"value": 1, "name": "Liver", "color": [r, g, b], \
        "category": {...}, "type": {...}}]}; pipelines/labels/common-structures.json lists common CT/MR \
        structures with their SNOMED CT codes); labels not in the table are "Label N" coded as Tissue. \
        --type binary (the default) writes one 1-bit frame per slice that holds a segment (all slices with \
        --keep-empty-frames), each referencing its source image; --type labelmap writes the 2024 Label Map \
        Segmentation: one frame per slice whose pixels are segment numbers (smaller; newer viewers); \
        --type fractional takes LABELS as probabilities instead (float NIfTI, values 0 to 1, one volume \
        per segment: volume c is label c + 1) and writes them as 8-bit PROBABILITY frames. Segments are \
        numbered 1…n in increasing label value. Patient, study and frame of reference come from the series. \
        A label map on another grid is refused with both grids named, unless --resample puts it on the \
        series' grid (nearest neighbour). The output appears atomically; an existing OUTPUT is replaced only \
        with --force. --deidentify PROFILE de-identifies the SEG with the keyed UIDs `voxelflow deidentify` \
        gives its series (same key), so it references the de-identified copy of the series.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The label map (NIfTI).")
    var labels: String

    @Option(name: .long, help: "The DICOM series the labels segment (a folder, or one file of it).")
    var reference: String

    @Option(name: .shortAndLong, help: "The SEG file to write.")
    var output: String

    @Option(name: .long, help: "A label table (JSON) with names, colours and codes.")
    var labelTable: String?

    @Option(name: .long, help: "For folders with several series: the stack number from `scan`, or a SeriesInstanceUID.")
    var series: String?

    @Option(name: .long, help: "SEG type: binary, labelmap or fractional (LABELS then holds probabilities).")
    var type: String = "binary"

    @Option(name: .long, help: "SegmentAlgorithmName (e.g. the model that made the labels).")
    var algorithm: String = "VoxelFlow"

    @Option(name: .long, help: "SegmentAlgorithmType: AUTOMATIC, SEMIAUTOMATIC or MANUAL.")
    var algorithmType: String = "AUTOMATIC"

    @Flag(name: .long, help: "Write a frame for every slice of every segment, empty or not.")
    var keepEmptyFrames = false

    @Flag(name: .long, help: "Put a label map on another grid onto the series' grid (nearest neighbour; linear for probabilities).")
    var resample = false

    @Flag(name: .long, help: "Replace OUTPUT when it exists (never when it is one of the inputs).")
    var force = false

    @OptionGroup var privacy: WriterDeidentification

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if !["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"].contains(algorithmType) {
            throw ValidationError("--algorithm-type must be AUTOMATIC, SEMIAUTOMATIC or MANUAL")
        }
        if !["binary", "labelmap", "fractional"].contains(type) {
            throw ValidationError("--type must be binary, labelmap or fractional")
        }
    }

    func run() throws {
        do {
            let inputs = try LabelExportInputs(labels: labels, labelTable: labelTable, reference: reference, series: series, resample: resample,
                                               interpolation: type == "fractional" ? .linear : .nearest, outputs: [output], force: force)
            let (table, stack) = (inputs.table, inputs.stack)
            let deidentifier = try privacy.deidentifier()
            var options = DICOMSegmentationOptions()
            options.algorithmName = algorithm
            options.algorithmType = algorithmType
            options.keepEmptyFrames = keepEmptyFrames
            let frames: Int, segments: Int
            if type == "fractional" {
                let probabilities = inputs.volume
                frames = try DICOMSegmentation.writeFractional(probabilities, reference: stack, table: table, to: output, options: options)
                segments = probabilities.timePoints
            } else {
                let map = try LabelMap(inputs.volume)
                options.type = type == "labelmap" ? .labelMap : .binary
                frames = try DICOMSegmentation.write(map, reference: stack, table: table, to: output, options: options)
                segments = map.labelsPresent().filter { $0 > 0 }.count
            }
            try WriterDeidentification.apply(deidentifier, to: [output])
            if !quiet {
                print("wrote \(output)\(deidentifier == nil ? "" : " de-identified") (DICOM SEG \(type.uppercased()), \(segments) segment\(segments == 1 ? "" : "s"), \(frames) frame\(frames == 1 ? "" : "s")) on DICOM series \(stack.label)")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
