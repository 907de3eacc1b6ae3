import CDCMTK
import Foundation
import VoxelSupport

/// De-identifies every DICOM file under a folder into another folder, in parallel, and writes
/// `deidentification.json` there. UIDs are remapped consistently across the whole archive (and across runs
/// with the same key), so series, SEGs and structure sets keep referring to each other.
public enum ArchiveDeidentification {
    /// The summary written as `deidentification.json`. It holds no original identifier and no input path.
    public struct Report: Codable, Equatable, Sendable {
        /// One de-identified series.
        public struct Series: Codable, Equatable, Sendable {
            public var studyInstanceUID: String
            public var seriesInstanceUID: String
            public var modality: String
            public var pseudonym: String
            public var files: Int
        }
        public var profile: String
        public var annexEEdition: String
        /// Identifies the key without revealing it (`DeidentificationKey.fingerprint`).
        public var keyFingerprint: String
        public var filesFound: Int
        public var written: Int
        public var heldBack: Int
        /// Files not written because they are not DICOM instances (other files, DICOMDIR indexes).
        public var skipped: Int
        /// Skipped files counted by reason.
        public var skippedReasons: [String: Int]
        /// Further copies of an instance already written (same SOP Instance UID; the first in path order is written).
        public var duplicates: Int
        public var failed: Int
        /// Held-back files counted by reason.
        public var heldBackReasons: [String: Int]
        /// Failed files counted by reason.
        public var failureReasons: [String: Int]
        /// Patients whose pseudonym came from the key because the map does not list them.
        public var patientsNotInMap: Int
        public var series: [Series]
    }

    /// One input file that was not written, for the operator's console (input paths never go into the report).
    public struct Problem: Sendable, Equatable {
        public let path: String
        public let outcome: DICOMDeidentifier.Outcome
    }

    /// The result of a run.
    public struct Result: Sendable {
        public let report: Report
        /// Files held back or failed, with their input paths.
        public let problems: [Problem]
        /// Original Patient ID → pseudonym, for every patient written (for `--write-map`).
        public let pseudonyms: [String: String]
    }

    /// The report's file name in the output folder.
    public static let reportName = "deidentification.json"

    /// Runs over every file under `input` (symbolic links followed, hidden files skipped) into `output`.
    /// `progress(done, total)` is called from worker threads as files finish.
    /// - Throws: `DeidentificationError.invalidOutput` when `output` lies inside `input` or when the report
    ///   exists and `replace` is off; `DICOMError` when `input` cannot be listed. Problems with single files are
    ///   outcomes in the result, never thrown.
    public static func run(input: String, output: String, deidentifier: DICOMDeidentifier, replace: Bool = false,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Result {
        let inputReal = realpath(input) ?? input
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let outputReal = realpath(output) ?? output
        if outputReal == inputReal || outputReal.hasPrefix(inputReal.hasSuffix("/") ? inputReal : inputReal + "/") {
            throw DeidentificationError.invalidOutput("the output folder \(output) lies inside the input \(input): choose a folder outside it")
        }
        let reportPath = outputReal + "/" + reportName
        if !replace && FileManager.default.fileExists(atPath: reportPath) {
            throw DeidentificationError.invalidOutput("\(reportPath) exists (an earlier run?): choose an empty folder, or pass --force to replace its files")
        }
        let files = try DICOMScanner.listFiles(input)
        let copies = duplicates(files)
        let outcomes = OutcomeStore(count: files.count)
        Parallel.perform(files.count) { i in
            if let first = copies[i] {
                outcomes.set(i, .duplicate(of: files[first]))
            } else {
                outcomes.set(i, deidentifier.deidentify(files[i], into: outputReal, replace: replace))
            }
            progress?(outcomes.finished, files.count)
        }
        var report = Report(profile: deidentifier.profile.name, annexEEdition: AnnexE.edition,
                            keyFingerprint: deidentifier.key.fingerprint, filesFound: files.count, written: 0, heldBack: 0,
                            skipped: 0, skippedReasons: [:], duplicates: 0, failed: 0, heldBackReasons: [:], failureReasons: [:], patientsNotInMap: 0, series: [])
        var problems: [Problem] = []
        var series: [String: Report.Series] = [:]
        var pseudonyms: [String: String] = [:]
        for (i, found) in outcomes.all.enumerated() {
            guard let outcome = found else { continue }
            switch outcome {
            case .written(let instance):
                report.written += 1
                series[instance.seriesInstanceUID, default: Report.Series(
                    studyInstanceUID: instance.studyInstanceUID, seriesInstanceUID: instance.seriesInstanceUID,
                    modality: instance.modality, pseudonym: instance.pseudonym, files: 0)].files += 1
                pseudonyms[instance.originalPatientID] = instance.pseudonym
            case .heldBack(let reason):
                report.heldBack += 1
                report.heldBackReasons[reason, default: 0] += 1
                problems.append(Problem(path: files[i], outcome: outcome))
            case .skipped(let reason):
                report.skipped += 1
                report.skippedReasons[reason.hasPrefix("not a DICOM") ? "not a DICOM file" : reason, default: 0] += 1
            case .duplicate:
                report.duplicates += 1
                problems.append(Problem(path: files[i], outcome: outcome))
            case .failed(let reason):
                report.failed += 1
                report.failureReasons[reason, default: 0] += 1
                problems.append(Problem(path: files[i], outcome: outcome))
            }
        }
        report.patientsNotInMap = pseudonyms.keys.filter { deidentifier.pseudonyms.entries[$0] == nil }.count
        report.series = series.values.sorted { ($0.studyInstanceUID, $0.seriesInstanceUID) < ($1.studyInstanceUID, $1.seriesInstanceUID) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(report)) + [0x0A], to: reportPath)
        return Result(report: report, problems: problems, pseudonyms: pseudonyms)
    }

    /// Writes `original PatientID,pseudonym` rows (readable back with `PseudonymTable(csv:)`), atomically;
    /// an existing file is replaced only with `replace`.
    public static func writeMap(_ pseudonyms: [String: String], to path: String, replace: Bool) throws {
        if !replace && FileManager.default.fileExists(atPath: path) {
            throw DeidentificationError.invalidOutput("\(path) exists: pass --force to replace it")
        }
        var text = "patient_id,pseudonym\n"
        for (original, pseudonym) in pseudonyms.sorted(by: { $0.key < $1.key }) { text += "\(original),\(pseudonym)\n" }
        try AtomicFile.write(Array(text.utf8), to: path)
    }

    /// For each file that repeats the SOP Instance UID of a file earlier in the (sorted) list, the index of
    /// that earlier file: archives often hold one instance twice (copies, or one series in several transfer
    /// syntaxes), and the de-identified copy is written once, always from the same input.
    static func duplicates(_ files: [String]) -> [Int?] {
        let store = UIDStore(count: files.count)
        Parallel.perform(files.count) { i in
            var summary = vf_dicom_summary()
            var err = [CChar](repeating: 0, count: 256)
            guard vf_dicom_read_summary(files[i], &summary, &err, err.count) == 0 else { return }
            let uid = withUnsafeBytes(of: summary.sop_instance_uid) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            store.set(i, uid.trimmingCharacters(in: CharacterSet(charactersIn: " \0")))
        }
        var first: [String: Int] = [:]
        return store.all.enumerated().map { i, uid -> Int? in
            guard let uid, !uid.isEmpty else { return nil }
            if let earlier = first[uid] { return earlier }
            first[uid] = i
            return nil
        }
    }

    private final class UIDStore: @unchecked Sendable {
        private var uids: [String?]
        private var lock = pthread_mutex_t()
        init(count: Int) {
            uids = Array(repeating: nil, count: count)
            pthread_mutex_init(&lock, nil)
        }
        deinit { pthread_mutex_destroy(&lock) }
        func set(_ i: Int, _ uid: String) {
            pthread_mutex_lock(&lock)
            uids[i] = uid
            pthread_mutex_unlock(&lock)
        }
        var all: [String?] {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            return uids
        }
    }

    private static func realpath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Outcomes written by worker threads.
    private final class OutcomeStore: @unchecked Sendable {
        private var outcomes: [DICOMDeidentifier.Outcome?]
        private var done = 0
        private var lock = pthread_mutex_t()
        init(count: Int) {
            outcomes = Array(repeating: nil, count: count)
            pthread_mutex_init(&lock, nil)
        }
        deinit { pthread_mutex_destroy(&lock) }
        func set(_ i: Int, _ outcome: DICOMDeidentifier.Outcome) {
            pthread_mutex_lock(&lock)
            outcomes[i] = outcome
            done += 1
            pthread_mutex_unlock(&lock)
        }
        var finished: Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            return done
        }
        var all: [DICOMDeidentifier.Outcome?] {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            return outcomes
        }
    }
}
