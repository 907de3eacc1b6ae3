import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show dimensions, spacing, orientation, affine, datatype and value range of an image.",
        discussion: """
        FILE is a NIfTI file (.nii, .nii.gz, .hdr/.img) or a single DICOM file. For NIfTI the whole \
        volume is read to report the value range. Affines map voxel indices (i, j, k) to millimetres, \
        shown in NIfTI's RAS+ frame (as nibabel prints them) and in DICOM's LPS+ frame.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The image file to describe.")
    var file: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        do {
            switch ImageFormat.detect(file) {
            case .nifti:
                let image = try NIfTI.read(file)
                let summary = image.summary(path: file)
                if json {
                    try printJSON(summary)
                } else {
                    print(InfoText.render(summary))
                }
            case .dicom:
                let header = try DICOMHeader.read(file)
                let (finite, warnings) = header.withFiniteValues()
                if json {
                    try printJSON(DICOMInfo(header: finite, objectKind: DICOMSOPClass.nonImageName(header.sopClassUID), warnings: warnings))
                } else {
                    print(InfoText.render(header, path: file))
                    for w in warnings + (header.valueProblem.map { [$0] } ?? []) { print("warning             \(w)") }
                }
            case .folder:
                throw InputError(description: "\(file): is a folder (use `voxelflow scan` to list its series)")
            case .unknown:
                throw InputError(description: "\(file): not a NIfTI or DICOM file (unknown extension and no DICM marker)")
            }
        } catch {
            throw ExitCodes.fail(error)
        }
    }

    private func printJSON<T: Encodable>(_ value: T) throws {
        print(try JSONValueEncoder.encode(value).serialized())
    }
}

/// `info --json` of a DICOM file: the header's attributes (non-finite numbers as null), what kind of object
/// it is when it is not an image, and warnings.
struct DICOMInfo: Encodable {
    var header: DICOMHeader
    var objectKind: String?
    var warnings: [String]

    enum Keys: String, CodingKey { case objectKind, warnings }

    func encode(to encoder: any Encoder) throws {
        try header.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(objectKind, forKey: .objectKind)
        try c.encode(warnings, forKey: .warnings)
    }
}
