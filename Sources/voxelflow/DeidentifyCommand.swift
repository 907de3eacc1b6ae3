import ArgumentParser
import Foundation
import VoxelIO
import VoxelSupport

struct DeidentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deidentify",
        abstract: "De-identify a folder of DICOM files (PS3.15 Annex E Basic Profile and options) into another folder.",
        discussion: """
        Every DICOM file under INPUT is written to OUTPUT/STUDY/SERIES/INSTANCE.dcm (the new UIDs) with the \
        attributes of PS3.15 Table E.1-1 removed, emptied or replaced as its Basic Profile says, private \
        attributes removed, and PatientIdentityRemoved, DeidentificationMethod and its code sequence set. \
        Pixel data is copied unchanged. Files whose pixels may show identifying text (BurnedInAnnotation YES, \
        Secondary Capture, ultrasound, screen saves, encapsulated PDFs) are held back unless --include-burned-in. \
        Files that are not DICOM are skipped; INPUT is never changed.

        --profile adds options to the Basic Profile (comma-separated): retain-dates (keep dates and times), \
        shift-dates (move each patient's dates back by 1 to 3650 days derived from the key; times kept), \
        retain-uids, clean-descriptors (keep study/series descriptions, protocol name and comments with the \
        file's names and IDs cut out), retain-patient-characteristics (sex, age, size, weight, …), \
        retain-safe-private (keep MOSAIC and diffusion private tags).

        New UIDs, pseudonyms (ANON-…) and date offsets are keyed hashes of the originals: the same --key-file \
        gives the same output, so separately de-identified series, SEGs and structure sets still reference each \
        other. Without a key (--key-file, or the VOXELFLOW_DEID_KEY environment variable) a random key is used \
        and the output cannot be linked to any other run. --map assigns your own pseudonyms (CSV rows \
        `PatientID,pseudonym[,pseudonym name]`); --write-map records the pseudonyms used (keep it secret). \
        OUTPUT/deidentification.json summarises the run without any original identifier or input path; the \
        input paths of held-back and failed files are printed on standard error.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The folder (or file) of DICOM files to de-identify.")
    var input: String

    @Argument(help: "The folder to write the de-identified files into (outside INPUT).")
    var output: String

    @Option(name: .long, help: "basic, or basic plus options: retain-dates, shift-dates, retain-uids, clean-descriptors, retain-patient-characteristics, retain-safe-private.")
    var profile: String = "basic"

    @Option(name: .long, help: "A file holding the secret key (at least 16 characters).")
    var keyFile: String?

    @Option(name: .long, help: "A CSV of pseudonyms: PatientID,pseudonym[,pseudonym name].")
    var map: String?

    @Option(name: .long, help: "Write the pseudonym of every patient written to this CSV (it links output to patients: keep it secret).")
    var writeMap: String?

    @Flag(name: .long, help: "Also write files whose pixels may show identifying text.")
    var includeBurnedIn = false

    @Flag(name: .long, help: "Replace files an earlier run wrote into OUTPUT.")
    var force = false

    @Option(name: .long, help: "Files processed in parallel (default: the number of cores).")
    var jobs: Int?

    @Flag(name: .shortAndLong, help: "Print only problems.")
    var quiet = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        do {
            let profile = try DeidentificationProfile(parsing: profile)
            let key: DeidentificationKey
            if let given = try DeidentificationKey.given(file: keyFile) {
                key = given
            } else {
                key = DeidentificationKey.random()
                printError("voxelflow: warning: no key given (--key-file or VOXELFLOW_DEID_KEY): a random key is used, so new UIDs and pseudonyms will not match any other run")
            }
            let pseudonyms = try map.map { try PseudonymTable(csv: $0) } ?? PseudonymTable()
            let deidentifier = DICOMDeidentifier(profile: profile, key: key, pseudonyms: pseudonyms, includeBurnedIn: includeBurnedIn)
            let quiet = self.quiet
            let interactive = isatty(2) != 0
            let result = try ComputeBudget.withThreads(jobs ?? ComputeBudget.threads) {
                try ArchiveDeidentification.run(input: input, output: output, deidentifier: deidentifier, replace: force) { done, total in
                    guard !quiet, done == total || done % 100 == 0 else { return }
                    let line = "deidentify: \(done)/\(total) files"
                    FileHandleOutput.writeStderr(interactive && done < total ? "\r" + line : line + "\n")
                }
            }
            if let writeMap { try ArchiveDeidentification.writeMap(result.pseudonyms, to: writeMap, replace: force) }
            for problem in result.problems {
                switch problem.outcome {
                case .heldBack(let reason): printError("voxelflow: held back \(problem.path): \(reason) (--include-burned-in writes it)")
                case .failed(let reason): printError("voxelflow: failed \(problem.path): \(reason)")
                case .duplicate(let first): printError("voxelflow: skipped \(problem.path): the same instance as \(first), written once")
                default: break
                }
            }
            let r = result.report
            if !quiet {
                var line = "de-identified \(r.written) of \(r.filesFound) files into \(output)"
                line += " (\(r.series.count) series; profile \(r.profile); key \(r.keyFingerprint))"
                if r.heldBack > 0 { line += "; \(r.heldBack) held back" }
                if r.skipped > 0 { line += "; \(r.skipped) skipped (not DICOM instances)" }
                if r.duplicates > 0 { line += "; \(r.duplicates) duplicate copies skipped" }
                if r.failed > 0 { line += "; \(r.failed) failed" }
                print(line)
            }
            if r.failed > 0 { throw ExitCode(ExitCodes.casesFailed) }
            if r.written == 0 && r.heldBack == 0 {
                throw InputError(description: "\(input): no DICOM file found")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
