import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a DICOM series or a NIfTI file to NIfTI; the output extension picks the layout.",
        discussion: """
        INPUT is a NIfTI file (.nii, .nii.gz, .hdr/.img), a folder of DICOM files (or a DICOMDIR's \
        folder), or one DICOM file (its series is gathered from the files beside it). OUTPUT ends in .nii, \
        .nii.gz or .hdr (writes a .hdr/.img pair). When a folder holds several series, --series picks one \
        (the number shown by `voxelflow scan`, or a SeriesInstanceUID); without it the choices are listed.

        NIfTI input keeps its stored type and scaling. DICOM input: slices are ordered by position along \
        the slice normal; CT becomes int16 HU (as dcm2niix writes it) when that is exact, other data keeps \
        its stored type with RescaleSlope/Intercept as scl_slope/scl_inter, or float32 when the rescale \
        differs per slice. Irregular stacks (missing slices, uneven spacing) are refused with the reason \
        (--resample-slices resamples them); gantry-tilted stacks are resliced onto an orthogonal grid \
        (--refuse-tilt refuses them). Siemens MOSAIC files of one series become one 4D volume. \
        A BIDS-style JSON sidecar is written beside OUTPUT (--no-sidecar), and .bval/.bvec for 4D \
        diffusion series; OUTPUT may be a folder, the name then comes from --name, and a folder INPUT then \
        gives every series (one that fails is reported, the others are written, exit code 4). --bids lays \
        the series out as a BIDS dataset (sub-/ses-/anat|func|dwi|pet|ct|misc, entity names, guessed from \
        the attributes; see the README). The world affine is written as sform and qform. The output \
        appears atomically. An existing \
        OUTPUT is replaced only with --force, and never when it is one of the input files. DICOM objects \
        that are not images (RTSTRUCT, SR, …) are refused by name.

        A DICOM SEG file (BINARY, FRACTIONAL or LABELMAP) becomes a label map: each voxel holds the number \
        of the segment covering it, and the segments' names, colours and codes are written beside it as a \
        label table (OUTPUT's name with .labels.json). With --reference SERIES the map lies on that \
        series' grid (the SEG must share its frame of reference and planes); without it, on the grid the \
        SEG's frames span. FRACTIONAL segments cover pixels at or above half their maximum value. \
        Overlapping segments are reported; the higher segment number is kept where they overlap.

        A DICOM RTSTRUCT file needs --reference (the series it was drawn on): each ROI's closed planar \
        contours are filled on that series' grid (pixel centres inside, holes by the even-odd rule) into \
        a label map whose value n is the n-th ROI, with its names and colours as the label table beside it.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The image to read.")
    var input: String

    @Argument(help: "The file to write (.nii, .nii.gz or .hdr).")
    var output: String

    @Option(name: .long, help: "NIfTI version of the output, 1 or 2 (default: the input's, or 2 when dimensions need it).")
    var niftiVersion: Int?

    @Option(name: .long, help: "gzip compression level for .gz outputs, 1 (fastest) to 12 (smallest).")
    var level: Int = Gzip.defaultLevel

    @Flag(name: .long, help: "Write big-endian instead of little-endian.")
    var bigEndian = false

    @Option(name: .long, help: "For DICOM folders with several series: the stack number from `scan`, or a SeriesInstanceUID.")
    var series: String?

    @Flag(name: .long, help: "PET: write body-weight SUV (float32), decay-corrected to the series time.")
    var suv = false

    @Flag(name: .long, help: "DICOM: resample stacks with missing slices or uneven spacing to uniform slices (linear, float32).")
    var resampleSlices = false

    @Flag(name: .long, help: "DICOM: refuse gantry-tilted stacks instead of reslicing them onto an orthogonal grid.")
    var refuseTilt = false

    @Option(name: .long, help: "DICOM SEG or RTSTRUCT input: the series (folder) whose grid the label map takes (required for RTSTRUCT).")
    var reference: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "DICOM input: write a BIDS-style JSON sidecar beside OUTPUT (OUTPUT's name with .json).")
    var sidecar = true

    @Flag(name: .long, help: "DICOM input: also put patient, institution and device identifiers in the sidecar.")
    var sidecarIdentifiers = false

    @Option(name: [.customShort("f"), .long], help: "DICOM input with a folder as OUTPUT: the file name, from dcm2niix's specifiers (%p protocol, %s series number, %d description, %e echo, %u acquisition, %t date and time, %z sequence, %m manufacturer, %j series UID, %i patient ID, …; %4s pads). Default: %p_%s.")
    var name: String?

    @Flag(name: .long, help: "DICOM input: write every series into the folder OUTPUT as a BIDS dataset (sub-<subject>/ses-<study date>/<anat|func|dwi|pet|ct|misc>/, BIDS entity names, dataset_description.json).")
    var bids = false

    @Option(name: .long, help: "With --bids: the subject label (letters and digits) instead of the PatientID's; the input must hold one patient.")
    var bidsSubject: String?

    @Flag(name: .long, help: "Replace OUTPUT when it already exists (an output is never written over one of the inputs).")
    var force = false

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if let v = niftiVersion, v != 1 && v != 2 { throw ValidationError("--nifti-version must be 1 or 2") }
        if !(1...12).contains(level) { throw ValidationError("--level must be between 1 and 12") }
    }

    func run() throws {
        do {
            let format = ImageFormat.detect(input)
            let isSeries = (format == .dicom || format == .folder) && !DICOMSegmentation.isSegmentation(input) && !DICOMRTStruct.isStructureSet(input)
            if !isSeries, name != nil { throw InputError(description: "--name applies to DICOM series input only; \(input) is not one") }
            if !isSeries, bids || bidsSubject != nil { throw InputError(description: "--bids applies to DICOM series input only; \(input) is not one") }
            switch format {
            case .nifti:
                try convertNIfTI()
            case .dicom where DICOMSegmentation.isSegmentation(input):
                try convertSegmentation()
            case .dicom where DICOMRTStruct.isStructureSet(input):
                try convertStructureSet()
            case .dicom, .folder:
                if reference != nil { throw InputError(description: "--reference applies to DICOM SEG input only; \(input) is not a SEG") }
                try convertDICOM()
            case .unknown:
                throw InputError(description: "\(input): not a NIfTI file, a DICOM file or a folder")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }

    private func writeOptions(for volume: Volume, base: NIfTIWriteOptions) -> NIfTIWriteOptions {
        var options = base
        if let v = niftiVersion { options.version = v }
        let size = volume.geometry.size
        if niftiVersion == nil && [size.x, size.y, size.z, volume.timePoints].contains(where: { $0 > Int(Int16.max) }) {
            options.version = 2
        }
        options.compressionLevel = level
        options.bigEndian = bigEndian
        return options
    }

    private func report(_ volume: Volume, _ options: NIfTIWriteOptions, from: String) {
        if suv && ImageFormat.detect(input) == .nifti {
            printError("voxelflow: warning: --suv applies to DICOM PET input only; ignored")
        }
        if !quiet {
            let s = volume.shape.map(String.init).joined(separator: "x")
            print("wrote \(output) (\(s) \(volume.voxelType), NIfTI-\(options.version ?? 1)) from \(from)")
        }
    }

    private func convertNIfTI() throws {
        try OutputGuard.check(NIfTI.datasetFiles(output), name: output, inputs: NIfTI.datasetFiles(input), force: force)
        let image = try NIfTI.read(input)
        for w in image.warnings { printError("voxelflow: warning: \(input): \(w)") }
        let options = writeOptions(for: image.volume, base: .preserving(image.header))
        try NIfTI.write(image.volume, to: output, options: options)
        report(image.volume, options, from: input)
    }

    /// True when OUTPUT names a folder: files are then named from the series (`--name`).
    private var outputIsFolder: Bool {
        output.hasSuffix("/") || FileIdentity.isDirectory(output)
    }

    /// One DICOM series to write: its first file's attributes, its diffusion table and the output path.
    private struct PlannedSeries {
        var stack: DICOMStack
        var acquisition: DICOMAcquisition?
        var diffusion: DiffusionTable?
        var path: String = ""
        var bids: BIDSName?
    }

    /// Reads the attributes that name the output and fill the sidecar (the first file's), and every
    /// volume's for the diffusion table.
    private func plan(_ stack: DICOMStack) throws -> PlannedSeries {
        let first = stack.slices[0].path
        var planned = PlannedSeries(stack: stack)
        do {
            planned.acquisition = try DICOMAcquisition.read(first)
        } catch {
            if sidecar || outputIsFolder || bids { printError("voxelflow: warning: \(first): acquisition attributes unreadable, no sidecar: \(error)") }
        }
        if stack.volumeCount > 1, planned.acquisition != nil {
            planned.diffusion = stack.volumesShareFiles
                ? DiffusionTable(weights: stack.volumeWeightings, geometry: stack.geometry())
                : DiffusionTable(try stack.volumeFiles.map { try DICOMAcquisition.read($0) }, geometry: stack.geometry())
        }
        return planned
    }

    /// The folder OUTPUT with a trailing slash.
    private var outputFolder: String { output.hasSuffix("/") ? output : output + "/" }

    private func convertDICOM() throws {
        if bids || (outputIsFolder && ImageFormat.detect(input) == .folder && series == nil) {
            return try convertArchive()
        }
        if bidsSubject != nil { throw InputError(description: "--bids-subject applies with --bids only") }
        let stack = try DICOMSeriesChoice.load(input, selector: series)
        let template = try DICOMNameTemplate(name ?? "%p_%s")
        var planned = try plan(stack)
        planned.path = output
        if outputIsFolder {
            let base = planned.acquisition.map { template.name(acquisition: $0, firstFile: stack.slices[0].path) } ?? "series"
            planned.path = outputFolder + base + ".nii.gz"
        } else if name != nil {
            throw InputError(description: "--name applies when OUTPUT is a folder; \(output) is a file name")
        }
        try write(planned)
    }

    /// Every series of the folder INPUT (or the one `--series` names, or the one a file INPUT belongs to)
    /// into the folder OUTPUT, named by `--name` or laid out as BIDS. A series that fails is reported and
    /// the others go on; the exit code is then 4.
    private func convertArchive() throws {
        guard outputIsFolder || !FileManager.default.fileExists(atPath: output) else {
            throw InputError(description: "--bids writes a dataset folder; \(output) is a file")
        }
        if bids, name != nil { throw InputError(description: "--name and --bids both name the outputs; give one") }
        let stacks: [DICOMStack]
        if ImageFormat.detect(input) == .dicom || series != nil {
            stacks = [try DICOMSeriesChoice.load(input, selector: series)]
        } else {
            let scan = try DICOMScanner.scan(input)
            guard !scan.stacks.isEmpty else {
                throw DICOMSeriesChoice.Problem.noImageSeries(place: input, selector: nil, scanned: scan.filesScanned, unreadable: scan.unreadable, nonImages: scan.nonImages)
            }
            if !scan.unreadable.isEmpty { printError("voxelflow: warning: \(scan.unreadable.count) unreadable file(s) skipped (`voxelflow scan` lists them)") }
            stacks = scan.stacks
        }
        // A series whose attributes cannot be read fails alone (in a folder of several).
        var failed: [(String, any Error)] = []
        var plans: [PlannedSeries] = []
        for stack in stacks {
            do {
                plans.append(try plan(stack))
            } catch where stacks.count > 1 {
                printError("voxelflow: error: series \(stack.label) (\(stack.header.seriesInstanceUID)): \(error)")
                failed.append((stack.label, error))
            }
        }
        if bids {
            let patients = Set(stacks.map { $0.header.patientID })
            if let subject = bidsSubject {
                guard !BIDSLayout.label(subject).isEmpty, BIDSLayout.label(subject) == subject else {
                    throw InputError(description: "--bids-subject \(subject): a BIDS label holds letters and digits only")
                }
                guard patients.count == 1 else {
                    throw InputError(description: "--bids-subject names one subject, but \(input) holds \(patients.count) patients")
                }
            }
            let names = BIDSLayout.names(for: plans.map {
                BIDSSeries(acquisition: $0.acquisition ?? DICOMAcquisition(values: [:], csa: [:]), volumeCount: $0.stack.volumeCount, hasDiffusion: $0.diffusion != nil)
            }, subject: bidsSubject)
            for n in plans.indices {
                plans[n].bids = names[n]
                plans[n].path = outputFolder + names[n].relativeBase + ".nii.gz"
            }
        } else {
            if bidsSubject != nil { throw InputError(description: "--bids-subject applies with --bids only") }
            let template = try DICOMNameTemplate(name ?? "%p_%s")
            var taken = Set<String>()
            for n in plans.indices {
                let base = plans[n].acquisition.map { template.name(acquisition: $0, firstFile: plans[n].stack.slices[0].path) } ?? "series"
                // Names that clash get a letter, as dcm2niix does: x, xa, xb, …
                var candidate = base
                var k = 0
                while taken.contains(candidate) {
                    candidate = base + Self.clashSuffix(k)
                    k += 1
                }
                taken.insert(candidate)
                plans[n].path = outputFolder + candidate + ".nii.gz"
            }
        }
        for p in plans {
            do {
                try FileManager.default.createDirectory(atPath: Self.folder(of: p.path), withIntermediateDirectories: true)
                try write(p)
            } catch where stacks.count == 1 {
                throw error
            } catch {
                printError("voxelflow: error: series \(p.stack.label) (\(p.stack.header.seriesInstanceUID)): \(error)")
                failed.append((p.stack.label, error))
            }
        }
        if bids { try writeDatasetFiles() }
        if !quiet && stacks.count > 1 { print("converted \(stacks.count - failed.count) of \(stacks.count) series into \(output)") }
        if !failed.isEmpty {
            printError("voxelflow: \(failed.count) of \(stacks.count) series failed; the others were written")
            throw ExitCode(ExitCodes.casesFailed)
        }
    }

    /// `a`, `b`, …, `z`, `aa`, … for the k-th clash of one name.
    static func clashSuffix(_ k: Int) -> String {
        let letter = String(UnicodeScalar(UInt8(97 + k % 26)))
        return k < 26 ? letter : clashSuffix(k / 26 - 1) + letter
    }

    /// The folder holding `path`.
    static func folder(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    }

    /// `dataset_description.json` and `.bidsignore` at the top of a BIDS dataset, each only when absent (a
    /// dataset's own files are never replaced).
    private func writeDatasetFiles() throws {
        let description = outputFolder + "dataset_description.json"
        if !FileManager.default.fileExists(atPath: description) {
            let json = BIDSLayout.datasetDescription(software: ("voxelflow", VoxelFlowVersion.string))
            try AtomicFile.write(Array((json.serialized() + "\n").utf8), to: description)
        }
        let ignore = outputFolder + ".bidsignore"
        if !FileManager.default.fileExists(atPath: ignore) { try AtomicFile.write(Array(BIDSLayout.bidsignore.utf8), to: ignore) }
    }

    /// Writes one series: the NIfTI file, the sidecar, the diffusion table; all of them or none.
    private func write(_ planned: PlannedSeries) throws {
        let stack = planned.stack, path = planned.path
        let base = Self.basePath(path)
        let sidecarPath = base + ".json", bvalPath = base + ".bval", bvecPath = base + ".bvec"
        let diffusion = planned.diffusion
        let extra = (sidecar && planned.acquisition != nil ? [sidecarPath] : []) + (diffusion != nil ? [bvalPath, bvecPath] : [])
        try OutputGuard.check(NIfTI.datasetFiles(path) + extra, name: path, inputs: stack.files, force: force)
        for p in stack.problems { printError("voxelflow: warning: \(stack.label): \(p)") }
        var volumeOptions = DICOMVolumeOptions()
        volumeOptions.suvBodyWeight = suv
        volumeOptions.resampleToUniformSpacing = resampleSlices
        volumeOptions.correctGantryTilt = !refuseTilt
        let volume = try stack.volume(options: volumeOptions)
        if stack.isTilted && !refuseTilt && !quiet { printError("voxelflow: note: \(stack.label): the tilted slices were resliced onto an orthogonal grid (--refuse-tilt refuses them)") }
        let options = writeOptions(for: volume, base: NIfTIWriteOptions())
        try NIfTI.write(volume, to: path, options: options)
        var written = NIfTI.datasetFiles(path)
        do {
            if sidecar, let acquisition = planned.acquisition {
                var json = DICOMSidecar.json(stack: stack, volume: volume, acquisition: acquisition, identifiers: sidecarIdentifiers,
                                             software: ("voxelflow", VoxelFlowVersion.string))
                if let name = planned.bids { json = BIDSLayout.sidecar(json, for: name) }
                try AtomicFile.write(Array((json.serialized() + "\n").utf8), to: sidecarPath)
                written.append(sidecarPath)
            }
            if let diffusion {
                try AtomicFile.write(Array(diffusion.bvalText.utf8), to: bvalPath)
                written.append(bvalPath)
                try AtomicFile.write(Array(diffusion.bvecText.utf8), to: bvecPath)
                written.append(bvecPath)
            }
        } catch {
            for file in written { unlink(file) }
            throw error
        }
        if !quiet {
            let s = volume.shape.map(String.init).joined(separator: "x")
            let also = written.dropFirst(NIfTI.datasetFiles(path).count)
            print("wrote \(path) (\(s) \(volume.voxelType), NIfTI-\(options.version ?? 1))\(also.isEmpty ? "" : " and " + also.joined(separator: ", ")) from DICOM series \(stack.label)")
        }
    }

    /// `path` without its NIfTI extension.
    static func basePath(_ path: String) -> String {
        for ext in [".nii.gz", ".nii", ".hdr", ".img"] where path.hasSuffix(ext) { return String(path.dropLast(ext.count)) }
        return path
    }

    private func convertSegmentation() throws {
        let stack = try reference.map { try DICOMSeriesChoice.load($0, selector: series) }
        let tablePath = LabelTable.sidecarPath(for: output)
        let inputs = [input] + (stack?.files ?? [])
        try OutputGuard.check(NIfTI.datasetFiles(output) + [tablePath], name: output, inputs: inputs, force: force)
        let seg = try DICOMSegmentation.read(input, reference: stack)
        if seg.overlappingVoxels > 0 {
            printError("voxelflow: warning: \(input): \(seg.overlappingVoxels) voxels lie in more than one segment; the higher segment number was kept there")
        }
        let options = writeOptions(for: seg.labels.volume, base: NIfTIWriteOptions())
        try writeLabelMap(seg.labels, table: seg.table, options: options, tablePath: tablePath)
        if !quiet {
            let n = seg.table.labels.count
            let on = stack.map { "DICOM series \($0.label)" } ?? "the grid its frames span"
            print("wrote \(output) (\(seg.labels.volume.shape.map(String.init).joined(separator: "x")) label map, \(n) segment\(n == 1 ? "" : "s")) and \(tablePath) from \(seg.segmentationType) SEG \(input) on \(on)")
        }
    }

    private func convertStructureSet() throws {
        guard let reference else {
            throw InputError(description: "\(input): an RTSTRUCT holds contours in millimetres, not a grid; give --reference SERIES (the series it was drawn on)")
        }
        let stack = try DICOMSeriesChoice.load(reference, selector: series)
        let tablePath = LabelTable.sidecarPath(for: output)
        try OutputGuard.check(NIfTI.datasetFiles(output) + [tablePath], name: output, inputs: [input] + stack.files, force: force)
        let rt = try DICOMRTStruct.read(input, reference: stack)
        for w in rt.warnings { printError("voxelflow: warning: \(input): \(w)") }
        if rt.overlappingVoxels > 0 {
            printError("voxelflow: warning: \(input): \(rt.overlappingVoxels) voxels lie in more than one ROI; the later ROI was kept there")
        }
        let options = writeOptions(for: rt.labels.volume, base: NIfTIWriteOptions())
        try writeLabelMap(rt.labels, table: rt.table, options: options, tablePath: tablePath)
        if !quiet {
            let n = rt.table.labels.count
            print("wrote \(output) (\(rt.labels.volume.shape.map(String.init).joined(separator: "x")) label map, \(n) ROI\(n == 1 ? "" : "s"), \(rt.contours) contours) and \(tablePath) from RTSTRUCT \(input) on DICOM series \(stack.label)")
        }
    }

    /// Writes the label map and its table beside it, as a pair: when the table cannot be written, the label
    /// map just written is removed again, so no half of the pair is left.
    private func writeLabelMap(_ labels: LabelMap, table: LabelTable, options: NIfTIWriteOptions, tablePath: String) throws {
        try NIfTI.write(labels.volume, to: output, options: options)
        do {
            try AtomicFile.write(Array((table.json.serialized() + "\n").utf8), to: tablePath)
        } catch {
            for file in NIfTI.datasetFiles(output) { unlink(file) }
            throw error
        }
    }
}
