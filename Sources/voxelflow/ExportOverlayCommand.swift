import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelTransforms

struct ExportOverlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-overlay",
        abstract: "Write label outlines burned into copies of a series' slices, as a DICOM Secondary Capture series (for PACS without SEG support).",
        discussion: """
        LABELS is a label map (NIfTI) on the grid of the DICOM series in --reference. OUTPUT is a new folder \
        that receives one Secondary Capture image per slice (SC0001.dcm, …): the slice windowed to grey, each \
        label's outline in its colour (from --label-table), and a legend in the top-left corner (a swatch \
        and the value of each label; the names are in the series description and ImageComments). Each image \
        references the source image it copies and carries its position, orientation and pixel spacing; \
        patient, study and frame of reference come from the series. The folder appears atomically; an \
        existing OUTPUT is refused. --deidentify PROFILE de-identifies the images with the keyed UIDs \
        `voxelflow deidentify` gives their series (same key).

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The label map (NIfTI).")
    var labels: String

    @Option(name: .long, help: "The DICOM series the labels were drawn on (a folder, or one file of it).")
    var reference: String

    @Option(name: .shortAndLong, help: "The folder to create.")
    var output: String

    @Option(name: .long, help: "A label table (JSON) with names and colours.")
    var labelTable: String?

    @Option(name: .long, help: "Display window: auto (CT soft tissue 40/400, else the 1st–99th percentile), soft-tissue, brain, bone, lung, or LEVEL,WIDTH.")
    var window: String = "auto"

    @Option(name: .long, help: "For folders with several series: the stack number from `scan`, or a SeriesInstanceUID.")
    var series: String?

    @Flag(name: .long, help: "Put a label map on another grid onto the series' grid (nearest neighbour).")
    var resample = false

    @OptionGroup var privacy: WriterDeidentification

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func run() throws {
        do {
            guard window == "auto" || DisplayWindow.presets[window] != nil || DisplayWindow.parse(window) != nil else {
                throw InputError(description: "--window \(window): expected auto, soft-tissue, brain, bone, lung or LEVEL,WIDTH with a positive width")
            }
            if FileIdentity(path: output) != nil { throw OutputError(description: "\(output): already exists; choose a new folder") }
            let inputs = try LabelExportInputs(labels: labels, labelTable: labelTable, reference: reference, series: series,
                                               resample: resample, outputs: nil, force: false)
            let (table, stack, map) = (inputs.table, inputs.stack, try LabelMap(inputs.volume))
            let display = window == "auto" ? DisplayWindow.automatic(for: try stack.volume()) : (DisplayWindow.presets[window] ?? DisplayWindow.parse(window))
            let w = display ?? DisplayWindow(level: 40, width: 400)
            let deidentifier = try privacy.deidentifier()
            let n = try DICOMOverlaySeries.write(map, reference: stack, table: table, window: (w.level, w.width), to: output)
            let written = ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).filter { $0.hasSuffix(".dcm") }.sorted()
            do {
                try WriterDeidentification.apply(deidentifier, to: written.map { output + "/" + $0 })
            } catch {
                rmdir(output)  // the folder is this command's own (it refuses an existing one) and is now empty
                throw error
            }
            if !quiet { print("wrote \(output)/ (\(n) Secondary Capture images with label outlines) on DICOM series \(stack.label)") }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
