import ArgumentParser
import VoxelIO

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an image to NIfTI; the output extension picks the layout.",
        discussion: """
        INPUT is a NIfTI file (.nii, .nii.gz, .hdr/.img). OUTPUT ends in .nii, .nii.gz or .hdr (writes
        a .hdr/.img pair). Voxels are kept in their stored type with their scaling (scl_slope/scl_inter),
        and the world affine is written as both sform and qform, with the input's codes kept. The output
        appears atomically: it is written under a temporary name and renamed when complete.
        DICOM input arrives with series assembly.

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

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if let v = niftiVersion, v != 1 && v != 2 { throw ValidationError("--nifti-version must be 1 or 2") }
        if !(1...12).contains(level) { throw ValidationError("--level must be between 1 and 12") }
    }

    func run() throws {
        do {
            guard ImageFormat.detect(input) == .nifti else {
                if ImageFormat.detect(input) == .dicom {
                    throw InputError(description: "\(input): DICOM input is not supported by convert yet (use `voxelflow info` to inspect it)")
                }
                throw InputError(description: "\(input): not a NIfTI file")
            }
            let image = try NIfTI.read(input)
            for w in image.warnings { printError("voxelflow: warning: \(input): \(w)") }
            var options = NIfTIWriteOptions.preserving(image.header)
            if let v = niftiVersion { options.version = v }
            let size = image.volume.geometry.size
            if niftiVersion == nil && [size.x, size.y, size.z, image.volume.timePoints].contains(where: { $0 > Int(Int16.max) }) {
                options.version = 2
            }
            options.compressionLevel = level
            options.bigEndian = bigEndian
            try NIfTI.write(image.volume, to: output, options: options)
            if !quiet {
                let s = image.volume.shape.map(String.init).joined(separator: "x")
                print("wrote \(output) (\(s) \(image.volume.voxelType), NIfTI-\(options.version ?? 1))")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
