import Foundation
import VoxelIO

/// De-identification in pipelines: the `deidentify` and `keyFile` parameters the DICOM writers share, and the
/// `deidentify` stage that writes a de-identified copy of the case's DICOM series.
enum DeidentificationSupport {
    /// The writers' parameters.
    static let writerParameters: [ParameterSpec] = [
        ParameterSpec("deidentify", .string, optional: true, doc: "de-identify what is written with this profile: \"basic\", or basic plus options as in `voxelflow deidentify --profile` (e.g. \"basic,shift-dates\"); with the same key, its UIDs and pseudonym are those `voxelflow deidentify` gives the series"),
        ParameterSpec("keyFile", .existingFile, optional: true, doc: "file holding the secret de-identification key (at least 16 characters); without it, the VOXELFLOW_DEID_KEY environment variable"),
    ]

    /// The de-identifier a stage asks for with `profileParameter`, or nil when it asks for none.
    /// - Throws: `CaseError.invalidParameters` for an unknown profile or a missing or short key.
    static func deidentifier(_ c: StageConfiguration, profileParameter: String = "deidentify", includeBurnedIn: Bool = false) throws -> DICOMDeidentifier? {
        guard let text = c.parameters.string(profileParameter) else { return nil }
        do {
            let profile = try DeidentificationProfile(parsing: text)
            let file = c.parameters.string("keyFile").map { $0.hasPrefix("/") ? $0 : "\(c.pipelineDirectory)/\($0)" }
            guard let key = try DeidentificationKey.given(file: file) else {
                throw DeidentificationError.invalidKey("no key: give keyFile, or set the VOXELFLOW_DEID_KEY environment variable (a random key would make outputs that match nothing)")
            }
            return DICOMDeidentifier(profile: profile, key: key, includeBurnedIn: includeBurnedIn)
        } catch let error as DeidentificationError {
            throw CaseError.invalidParameters(stage: c.id, reason: error.description)
        }
    }

    /// De-identifies files a writer has just made, where they lie.
    static func apply(_ deidentifier: DICOMDeidentifier?, to files: [String], stage: String) throws {
        guard let deidentifier else { return }
        for file in files {
            do {
                try deidentifier.deidentifyInPlace(file)
            } catch {
                throw CaseError.invalidParameters(stage: stage, reason: "\(error)")
            }
        }
    }
}

/// `deidentify`: writes a de-identified copy of the case's DICOM series into the case folder
/// (`PATH/STUDY/SERIES/INSTANCE.dcm`, new UIDs), as `voxelflow deidentify` does for a whole archive. With the
/// same key, SEGs and RTSTRUCTs written with `"deidentify"` reference exactly these copies.
struct DeidentifyStage: Stage {
    static let definition = StageDefinition(
        type: "deidentify", category: .writer,
        summary: "Write a de-identified copy of the case's DICOM series (PS3.15 Annex E Basic Profile and options, keyed UIDs and pseudonym) into the case folder.",
        parameters: [
            ParameterSpec("reference", .reference([.image]), doc: "the case's dicom-series input to copy"),
            ParameterSpec("path", .outputPath, default: .string("deidentified"), doc: "folder inside the case folder that receives STUDY/SERIES/INSTANCE.dcm"),
            ParameterSpec("profile", .string, default: .string("basic"), doc: "\"basic\", or basic plus options: retain-dates, shift-dates, retain-uids, clean-descriptors, retain-patient-characteristics, retain-safe-private"),
            ParameterSpec("keyFile", .existingFile, optional: true, doc: "file holding the secret key (at least 16 characters); without it, the VOXELFLOW_DEID_KEY environment variable"),
            ParameterSpec("includeBurnedIn", .boolean, default: .bool(false), doc: "also copy images whose pixels may show identifying text (BurnedInAnnotation YES, Secondary Capture, ultrasound…); they are left out with a warning otherwise"),
        ],
        produces: .nothing,
        make: { c in
            guard let deidentifier = try DeidentificationSupport.deidentifier(c, profileParameter: "profile", includeBurnedIn: try c.bool("includeBurnedIn")) else {
                throw CaseError.invalidParameters(stage: c.id, reason: "profile is missing")
            }
            return DeidentifyStage(id: c.id, reference: try c.string("reference"), path: try c.string("path"), deidentifier: deidentifier)
        })

    let id: String
    let reference: String
    let path: String
    let deidentifier: DICOMDeidentifier

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let stack = try DICOMWriterSupport.series(context, reference: reference, purpose: "deidentify copies the files of a DICOM series")
        let folder = try context.outputFile(context.outputName(path, id: id))
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CaseError.cannotWrite(path: folder, reason: FileSystemMessage.describe(error))
        }
        var heldBack = 0
        for file in stack.files.sorted() {
            switch deidentifier.deidentify(file, into: folder) {
            case .written, .duplicate: break
            case .heldBack: heldBack += 1
            case .skipped(let reason), .failed(let reason):
                throw CaseError.unusableInput(input: reference, reason: "a file of the series cannot be de-identified: \(reason)")
            }
        }
        if heldBack > 0 {
            context.warnings.append("\(id): \(heldBack) file\(heldBack == 1 ? "" : "s") held back: their pixels may show identifying text (includeBurnedIn copies them)")
        }
        return nil
    }
}
