import ArgumentParser
import Foundation
import VoxelIO

struct ExportSRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-sr",
        abstract: "Write a DICOM Structured Report of the measurements of a SEG's segments on its series.",
        discussion: """
        SEG is a DICOM SEG (VoxelFlow's, highdicom's, dcmqi's…) of the DICOM series in --reference (a folder; \
        --series picks one of several, as in `convert`). The report is an Enhanced SR holding the TID 1500 \
        Measurement Report: one Volumetric ROI Measurements group (TID 1411) per segment with a voxel, named \
        after the segment's label, referencing the segment and the series, with the segment's property type \
        as finding, its volume in mm³ and, unless --volumes-only, the series' mean, standard deviation, \
        minimum and maximum inside it (attenuation in HU for CT, signal without units otherwise). It joins \
        the SEG's study (patient and study attributes from the SEG) and lists the SEG as evidence, so viewers \
        and archives show the numbers beside the segmentation; highdicom and dcmqi read it back. The output \
        appears atomically; an existing OUTPUT is replaced only with --force.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The DICOM SEG to measure.")
    var seg: String

    @Option(name: .long, help: "The DICOM series the SEG segments (a folder, or one file of it).")
    var reference: String

    @Option(name: .shortAndLong, help: "The structured report to write (.dcm).")
    var output: String

    @Option(name: .long, help: "For folders with several series: the stack number from `scan`, or a SeriesInstanceUID.")
    var series: String?

    @Flag(name: .long, help: "Report volumes only, no intensity statistics.")
    var volumesOnly = false

    @Option(name: .long, help: "SeriesDescription of the report.")
    var seriesDescription = "VoxelFlow measurements"

    @Flag(name: .long, help: "Replace OUTPUT when it exists (never when it is one of the inputs).")
    var force = false

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func run() throws {
        do {
            guard DICOMSegmentation.isSegmentation(seg) else { throw InputError(description: "\(seg): not a DICOM SEG") }
            let stack = try DICOMSeriesChoice.load(reference, selector: series)
            try OutputGuard.check([output], name: output, inputs: [seg] + stack.files, force: force)
            let image = volumesOnly ? nil : try stack.volume()
            let measurements = try DICOMMeasurementReport.measure(seg: seg, reference: stack, image: image)
            try DICOMMeasurementReport.write(measurements, seg: seg, reference: stack, to: output, seriesDescription: seriesDescription)
            if !quiet {
                print("wrote \(output) (DICOM SR measurement report, \(measurements.count) segment\(measurements.count == 1 ? "" : "s")) on DICOM series \(stack.label)")
                for m in measurements {
                    let intensity = m.mean.map { String(format: ", mean %.1f, sd %.1f, min %.1f, max %.1f", $0, m.standardDeviation ?? 0, m.minimum ?? 0, m.maximum ?? 0) } ?? ""
                    print("  segment \(m.segment) \(m.label): \(m.voxels) voxels, \(String(format: "%.1f", m.volume)) mm³\(intensity)")
                }
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
