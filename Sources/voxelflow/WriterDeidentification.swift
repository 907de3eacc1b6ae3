import ArgumentParser
import Foundation
import VoxelIO

/// `--deidentify PROFILE [--deid-key-file FILE]` of the DICOM writers (`export-seg`, `export-rtstruct`,
/// `export-overlay`): what they write is de-identified with the keyed UIDs and pseudonym that
/// `voxelflow deidentify` gives the source series with the same key, so the output still references the
/// de-identified copy of its series.
struct WriterDeidentification: ParsableArguments {
    @Option(name: .long, help: "De-identify what is written: basic, or basic plus options as in `deidentify --profile` (e.g. basic,shift-dates). With the same key, its UIDs and pseudonym are those `voxelflow deidentify` gives the series.")
    var deidentify: String?

    @Option(name: .long, help: "With --deidentify: a file holding the secret key (at least 16 characters); without it, the VOXELFLOW_DEID_KEY environment variable.")
    var deidKeyFile: String?

    /// The de-identifier asked for, checked before anything is written; nil without --deidentify.
    /// - Throws: `InputError` for an unknown profile or a missing or short key.
    func deidentifier() throws -> DICOMDeidentifier? {
        guard let deidentify else {
            if deidKeyFile != nil { throw InputError(description: "--deid-key-file applies with --deidentify") }
            return nil
        }
        do {
            let profile = try DeidentificationProfile(parsing: deidentify)
            guard let key = try DeidentificationKey.given(file: deidKeyFile) else {
                throw InputError(description: "--deidentify needs a key: --deid-key-file FILE, or the VOXELFLOW_DEID_KEY environment variable (a random key would make outputs that match nothing)")
            }
            return DICOMDeidentifier(profile: profile, key: key, includeBurnedIn: true)
        } catch let error as DeidentificationError {
            throw InputError(description: "--deidentify: \(error.description)")
        }
    }

    /// De-identifies `files` (just written) where they lie; when one fails, every file of `files` is removed,
    /// so nothing identifying is left behind.
    static func apply(_ deidentifier: DICOMDeidentifier?, to files: [String]) throws {
        guard let deidentifier else { return }
        do {
            for file in files { try deidentifier.deidentifyInPlace(file) }
        } catch {
            for file in files { unlink(file) }
            throw error
        }
    }
}
