import ArgumentParser
import VoxelCore
import VoxelIO
import VoxelTransforms

struct ExportRTStructCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-rtstruct",
        abstract: "Write a label map as a DICOM RT Structure Set (RTSTRUCT) that planning systems open on its series.",
        discussion: """
        LABELS is a label map (NIfTI) on the grid of the DICOM series in --reference (a folder; --series picks \
        one of several, as in `convert`). Each label becomes an ROI named and coloured from --label-table \
        (labels not in it are "Label N"); ROIs are numbered 1…n in increasing label value. On every slice, \
        each outline and each hole of a label becomes a CLOSED_PLANAR contour referencing that slice's \
        image, traced half a pixel outside the label's pixel centres (so that filling the contours gives \
        the label back exactly); coordinates are rounded to 0.001 mm and every decimal string fits 16 \
        characters. A label map on another grid is refused with both grids named, unless --resample puts it \
        on the series' grid (nearest neighbour). The output appears atomically; an existing OUTPUT is \
        replaced only with --force. --deidentify PROFILE de-identifies the RTSTRUCT with the keyed UIDs \
        `voxelflow deidentify` gives its series (same key), so it references the de-identified copy.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The label map (NIfTI).")
    var labels: String

    @Option(name: .long, help: "The DICOM series the labels were drawn on (a folder, or one file of it).")
    var reference: String

    @Option(name: .shortAndLong, help: "The RTSTRUCT file to write.")
    var output: String

    @Option(name: .long, help: "A label table (JSON) with names and colours.")
    var labelTable: String?

    @Option(name: .long, help: "For folders with several series: the stack number from `scan`, or a SeriesInstanceUID.")
    var series: String?

    @Option(name: .long, help: "ROIGenerationAlgorithm: AUTOMATIC, SEMIAUTOMATIC or MANUAL.")
    var algorithmType: String = "AUTOMATIC"

    @Option(name: .long, help: "RTROIInterpretedType of every ROI (ORGAN, PTV, GTV, AVOIDANCE, …; empty for none).")
    var interpretedType: String = "ORGAN"

    @Flag(name: .long, help: "Put a label map on another grid onto the series' grid (nearest neighbour).")
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
    }

    func run() throws {
        do {
            let inputs = try LabelExportInputs(labels: labels, labelTable: labelTable, reference: reference, series: series,
                                               resample: resample, outputs: [output], force: force)
            let (table, stack, map) = (inputs.table, inputs.stack, try LabelMap(inputs.volume))
            var options = DICOMRTStructOptions()
            options.algorithmType = algorithmType
            options.interpretedType = interpretedType
            let deidentifier = try privacy.deidentifier()
            let written = try DICOMRTStruct.write(map, reference: stack, table: table, to: output, options: options)
            try WriterDeidentification.apply(deidentifier, to: [output])
            if !quiet {
                print("wrote \(output) (RTSTRUCT, \(written.rois) ROI\(written.rois == 1 ? "" : "s"), \(written.contours) contour\(written.contours == 1 ? "" : "s")) on DICOM series \(stack.label)")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
