import VoxelSupport

/// Where a converted series goes in a BIDS dataset: `sub-<subject>/[ses-<session>/]<datatype>/` and a file
/// name of BIDS entities, `sub-<subject>[_ses-<session>][_task-<task>][_acq-<acq>][_run-<n>]_<suffix>`.
public struct BIDSName: Sendable, Equatable {
    /// The subject label (letters and digits; `unknown` when the PatientID is empty).
    public var subject: String
    /// The session label, nil without one.
    public var session: String?
    /// The data type folder: `anat`, `func`, `dwi`, `pet`, or the non-BIDS `ct` and `misc` (see `BIDSLayout`).
    public var datatype: String
    /// The task label (`func` data only).
    public var task: String?
    /// The acquisition label, used to tell `misc` series apart.
    public var acquisition: String?
    /// The run index, set when several series would otherwise share one name.
    public var run: Int?
    /// The suffix: `T1w`, `T2w`, `FLAIR`, `T2starw`, `PDw`, `bold`, `dwi`, `pet`, `ct`, or for `misc` data `image`.
    public var suffix: String

    /// The file name without extension.
    public var fileBase: String {
        var parts = ["sub-" + subject]
        if let session { parts.append("ses-" + session) }
        if let task { parts.append("task-" + task) }
        if let acquisition { parts.append("acq-" + acquisition) }
        if let run { parts.append("run-\(run)") }
        return (parts + [suffix]).joined(separator: "_")
    }

    /// The path below the dataset folder, without extension.
    public var relativeBase: String {
        "sub-\(subject)/" + (session.map { "ses-\($0)/" } ?? "") + datatype + "/" + fileBase
    }
}

/// One series to place in a BIDS dataset.
public struct BIDSSeries: Sendable {
    /// The attributes of the series' first file.
    public var acquisition: DICOMAcquisition
    /// The number of volumes (above 1 for fMRI, DWI and other 4D series).
    public var volumeCount: Int
    /// True when the series has b-values (a diffusion series).
    public var hasDiffusion: Bool

    /// A series with its first file's attributes and its volume count.
    public init(acquisition: DICOMAcquisition, volumeCount: Int, hasDiffusion: Bool) {
        self.acquisition = acquisition
        self.volumeCount = volumeCount
        self.hasDiffusion = hasDiffusion
    }
}

/// Places converted series in a BIDS layout, guessing data type and suffix from the DICOM attributes as
/// conversion tools do (dcm2niix's `BidsGuess`, heudiconv's heuristics):
///
/// - PET (`PT`) → `pet/…_pet`.
/// - MR with b-values, or a description naming diffusion (`dwi`, `dti`, `diff`) → `dwi/…_dwi`.
/// - MR 4D whose description names a functional run (`bold`, `fmri`, `rest`, `task`, `func`) → `func/…_task-<t>_bold`,
///   the task being `rest` for resting state, otherwise the description as a label.
/// - MR 3D by the words of SeriesDescription, ProtocolName and SequenceName: `flair` → `FLAIR`; `t2*`,
///   `t2star`, `swi` → `T2starw`; `t2` → `T2w`; `t1`, `mprage`, `mp2rage`, `spgr`, `tfl`, `bravo` → `T1w`;
///   `pd` → `PDw`, all in `anat`.
/// - CT → `ct/…_ct`, and everything else → `misc/…_acq-<description>_image`. BIDS has no CT data type
///   and no place for unrecognised series; both folders are listed in the dataset's `.bidsignore`.
///
/// The subject label is the PatientID with everything but letters and digits removed (or given); the
/// session label is the StudyDate (YYYYMMDD), with a letter added when one subject has several studies
/// on one day. Series that would share a name are numbered `run-1`, `run-2`, … by SeriesNumber.
public enum BIDSLayout {
    /// Data type folders that the BIDS specification does not define (listed in `.bidsignore`).
    public static let nonstandardDatatypes = ["ct", "misc"]

    /// `text` with everything but ASCII letters and digits removed, as BIDS labels must be.
    public static func label(_ text: String) -> String {
        String(text.filter { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }

    /// The data type, suffix and task label guessed for `series`.
    public static func classify(_ series: BIDSSeries) -> (datatype: String, suffix: String, task: String?) {
        let a = series.acquisition
        func v(_ key: String) -> String { (a.values[key] ?? "").trimmingCharacters(in: [" "]) }
        let modality = v("Modality").uppercased()
        if modality == "PT" { return ("pet", "pet", nil) }
        if modality == "CT" { return ("ct", "ct", nil) }
        guard modality == "MR" else { return ("misc", "image", nil) }
        let text = [v("SeriesDescription"), v("ProtocolName"), v("SequenceName")].joined(separator: " ").lowercased()
        let words = Set(text.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "*") }).map(String.init))
        func has(_ w: String) -> Bool { words.contains(w) || words.contains { $0.hasPrefix(w) } }
        if series.hasDiffusion || has("dwi") || has("dti") || has("diff") { return ("dwi", "dwi", nil) }
        if series.volumeCount > 1 {
            if has("rest") || has("rsfmri") { return ("func", "bold", "rest") }
            if has("bold") || has("fmri") || has("task") || has("func") {
                let description = label(v("SeriesDescription").isEmpty ? v("ProtocolName") : v("SeriesDescription"))
                return ("func", "bold", description.isEmpty ? "unknown" : description)
            }
            return ("misc", "image", nil)
        }
        if has("flair") { return ("anat", "FLAIR", nil) }
        if words.contains("t2*") || has("t2star") || has("swi") { return ("anat", "T2starw", nil) }
        if has("t2") { return ("anat", "T2w", nil) }
        if has("t1") || has("mprage") || has("mp2rage") || has("spgr") || has("tfl") || has("bravo") { return ("anat", "T1w", nil) }
        if words.contains("pd") || has("pdw") { return ("anat", "PDw", nil) }
        return ("misc", "image", nil)
    }

    /// The names of `series`, in the same order. `subject` replaces every series' PatientID-derived label.
    public static func names(for series: [BIDSSeries], subject: String? = nil) -> [BIDSName] {
        func v(_ a: DICOMAcquisition, _ key: String) -> String { (a.values[key] ?? "").trimmingCharacters(in: [" "]) }
        // Sessions: one per study, labelled by its date; several studies of one subject on one day get letters.
        let subjects = series.map { s -> String in
            let l = subject ?? label(v(s.acquisition, "PatientID"))
            return l.isEmpty ? "unknown" : l
        }
        var studiesByDay: [String: [String]] = [:]
        for (n, s) in series.enumerated() {
            let day = subjects[n] + "|" + label(v(s.acquisition, "StudyDate"))
            let study = v(s.acquisition, "StudyInstanceUID")
            if !(studiesByDay[day]?.contains(study) ?? false) { studiesByDay[day, default: []].append(study) }
        }
        var names: [BIDSName] = series.enumerated().map { n, s in
            let (datatype, suffix, task) = classify(s)
            let date = label(v(s.acquisition, "StudyDate"))
            var session: String? = date.isEmpty ? nil : date
            if let day = studiesByDay[subjects[n] + "|" + date], day.count > 1, let i = day.firstIndex(of: v(s.acquisition, "StudyInstanceUID")) {
                session = (session ?? "") + String(UnicodeScalar(UInt8(97 + i % 26)))
            }
            var acquisition: String?
            if datatype == "misc" {
                let d = label(v(s.acquisition, "SeriesDescription").isEmpty ? v(s.acquisition, "ProtocolName") : v(s.acquisition, "SeriesDescription"))
                acquisition = d.isEmpty ? nil : d
            }
            return BIDSName(subject: subjects[n], session: session, datatype: datatype, task: task, acquisition: acquisition, run: nil, suffix: suffix)
        }
        var shared: [String: [Int]] = [:]
        for (n, name) in names.enumerated() { shared[name.relativeBase, default: []].append(n) }
        for members in shared.values where members.count > 1 {
            let ordered = members.sorted { a, b in
                let x = series[a].acquisition.number("SeriesNumber") ?? .infinity, y = series[b].acquisition.number("SeriesNumber") ?? .infinity
                return x != y ? x < y : a < b
            }
            for (k, n) in ordered.enumerated() { names[n].run = k + 1 }
        }
        return names
    }

    /// `dataset_description.json` for a dataset written by `software`.
    public static func datasetDescription(software: (name: String, version: String)) -> JSON {
        .object([
            ("Name", .string("DICOM conversion")),
            ("BIDSVersion", .string("1.9.0")),
            ("DatasetType", .string("raw")),
            ("GeneratedBy", .array([.object([("Name", .string(software.name)), ("Version", .string(software.version))])])),
        ])
    }

    /// `.bidsignore`: the non-BIDS data type folders.
    public static let bidsignore = nonstandardDatatypes.map { "**/\($0)/\n" }.joined()

    /// `sidecar` with `TaskName` added (BIDS requires it for `func` data).
    public static func sidecar(_ sidecar: JSON, for name: BIDSName) -> JSON {
        guard let task = name.task, case .object(var pairs) = sidecar else { return sidecar }
        pairs.insert(("TaskName", .string(task)), at: 0)
        return .object(pairs)
    }
}
