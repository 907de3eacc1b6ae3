import VoxelSupport

/// Where a converted series goes in a BIDS dataset: `sub-<subject>/[ses-<session>/]<datatype>/` and a file
/// name of BIDS entities, `sub-<subject>[_ses-<session>][_task-<task>][_acq-<acq>][_run-<n>]_<suffix>`.
public struct BIDSName: Sendable, Equatable {
    /// The subject label (letters and digits; `unknown` when the PatientID is empty).
    public var subject: String
    /// The session label, nil without one.
    public var session: String?
    /// The data type folder: `anat`, `func`, `dwi`, `fmap`, `pet`, or the non-BIDS `ct` and `misc` (see `BIDSLayout`).
    public var datatype: String
    /// The task label (`func` data only).
    public var task: String?
    /// The acquisition label, used to tell `misc` series apart.
    public var acquisition: String?
    /// The run index, set when several series would otherwise share one name.
    public var run: Int?
    /// The suffix: `T1w`, `T2w`, `FLAIR`, `T2starw`, `PDw`, `bold`, `dwi`, `pet`, `ct`, the field-map suffixes
    /// `phasediff`, `magnitude1`, `magnitude2` and `epi`, or for `misc` data `image`.
    public var suffix: String
    /// The phase-encoding direction label (`AP`, `PA`, `LR`, `RL`, `SI`, `IS`) of `dwi`, `func` and `epi` field-map
    /// series whose description names one.
    public var direction: String? = nil
    /// The echo index, set when series differ only in their EchoNumbers (multi-echo).
    public var echo: Int? = nil
    /// `phase` for phase images, `mag` for the magnitude images exported beside them.
    public var part: String? = nil

    /// The file name without extension, entities in the order BIDS gives them.
    public var fileBase: String {
        var parts = ["sub-" + subject]
        if let session { parts.append("ses-" + session) }
        if let task { parts.append("task-" + task) }
        if let acquisition { parts.append("acq-" + acquisition) }
        if let direction { parts.append("dir-" + direction) }
        if let run { parts.append("run-\(run)") }
        if let echo { parts.append("echo-\(echo)") }
        if let part { parts.append("part-" + part) }
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
/// - MR field maps: a GRE field map (sequence `fm2d`/`fm3d`, or `fieldmap`, `field mapping`, `fmap`, `b0map` in
///   the description) → `fmap/…_phasediff` for its phase image, `fmap/…_magnitude1`/`_magnitude2` by EchoNumbers;
///   a spin-echo EPI field map (an EPI sequence with those words, or `topup`) → `fmap/…_dir-<d>_epi`.
/// - MR 3D by the words of SeriesDescription, ProtocolName and SequenceName: `flair` → `FLAIR`; `t2*`,
///   `t2star`, `swi` → `T2starw`; `t2` → `T2w`; `t1`, `mprage`, `mp2rage`, `spgr`, `tfl`, `bravo` → `T1w`;
///   `pd` → `PDw`, all in `anat`.
/// - CT → `ct/…_ct`, and everything else → `misc/…_acq-<description>_image`. BIDS has no CT data type
///   and no place for unrecognised series; both folders are listed in the dataset's `.bidsignore`.
///
/// Entities: `dir-` from a direction word of the description (`AP`, `PA`, `LR`, `RL`, `SI`, `IS`) for `dwi`, `func`
/// and `epi` series; `part-phase` for phase images (ImageType `P` or `PHASE`) and `part-mag` for the magnitude
/// series of the same name; `echo-<n>` when series differ only in EchoNumbers.
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
        let g = guess(series)
        return (g.datatype, g.suffix, g.task)
    }

    /// What the attributes of a series say about its place: data type, suffix, task, direction and phase.
    struct Guess {
        var datatype: String, suffix: String, task: String?
        var direction: String? = nil
        var isPhase = false
    }

    static func guess(_ series: BIDSSeries) -> Guess {
        let a = series.acquisition
        func v(_ key: String) -> String { (a.values[key] ?? "").trimmingCharacters(in: [" "]) }
        let modality = v("Modality").uppercased()
        if modality == "PT" { return Guess(datatype: "pet", suffix: "pet", task: nil) }
        if modality == "CT" { return Guess(datatype: "ct", suffix: "ct", task: nil) }
        guard modality == "MR" else { return Guess(datatype: "misc", suffix: "image", task: nil) }
        let sequence = v("SequenceName").lowercased()
        let text = [v("SeriesDescription"), v("ProtocolName"), sequence].joined(separator: " ").lowercased()
        let words = Set(text.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "*") }).map(String.init))
        func has(_ w: String) -> Bool { words.contains(w) || words.contains { $0.hasPrefix(w) } }
        let imageType = Set(v("ImageType").uppercased().split(separator: "\\").map { $0.trimmingCharacters(in: [" "]) })
        let isPhase = imageType.contains("P") || imageType.contains("PHASE")
        // A phase-encoding direction named as a word of the description (…_AP, …_PA).
        let direction = ["ap", "pa", "lr", "rl", "si", "is"].first { words.contains($0) }?.uppercased()
        // Field maps: a GRE field map (Siemens fm2d/fm3d sequences, "field mapping", "fieldmap", "b0map") gives a
        // phase difference and its magnitudes; a spin-echo EPI one (also "topup") gives an `epi` image per direction.
        let fieldmap = words.contains { $0.contains("fieldmap") || $0.contains("fmap") || $0.contains("b0map") }
            || (words.contains("field") && has("mapping")) || sequence.contains("fm2d") || sequence.contains("fm3d")
        let epi = sequence.contains("ep") && !sequence.contains("fm") || has("epi") || has("topup") || has("spinecho") || words.contains("se")
        if has("topup") || (fieldmap && epi) {
            return Guess(datatype: "fmap", suffix: "epi", task: nil, direction: direction)
        }
        if fieldmap {
            if isPhase { return Guess(datatype: "fmap", suffix: "phasediff", task: nil) }
            let echo = a.number("EchoNumbers").map { Int($0) } ?? 1
            return Guess(datatype: "fmap", suffix: "magnitude\(echo == 2 ? 2 : 1)", task: nil)
        }
        if series.hasDiffusion || has("dwi") || has("dti") || has("diff") {
            return Guess(datatype: "dwi", suffix: "dwi", task: nil, direction: direction, isPhase: isPhase)
        }
        if series.volumeCount > 1 {
            if has("rest") || has("rsfmri") { return Guess(datatype: "func", suffix: "bold", task: "rest", direction: direction, isPhase: isPhase) }
            if has("bold") || has("fmri") || has("task") || has("func") {
                let description = label(v("SeriesDescription").isEmpty ? v("ProtocolName") : v("SeriesDescription"))
                return Guess(datatype: "func", suffix: "bold", task: description.isEmpty ? "unknown" : description, direction: direction, isPhase: isPhase)
            }
            return Guess(datatype: "misc", suffix: "image", task: nil)
        }
        func anat(_ suffix: String) -> Guess { Guess(datatype: "anat", suffix: suffix, task: nil, isPhase: isPhase) }
        if has("flair") { return anat("FLAIR") }
        if words.contains("t2*") || has("t2star") || has("swi") { return anat("T2starw") }
        if has("t2") { return anat("T2w") }
        if has("t1") || has("mprage") || has("mp2rage") || has("spgr") || has("tfl") || has("bravo") { return anat("T1w") }
        if words.contains("pd") || has("pdw") { return anat("PDw") }
        return Guess(datatype: "misc", suffix: "image", task: nil)
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
        let guesses = series.map(guess)
        var names: [BIDSName] = series.enumerated().map { n, s in
            let (datatype, suffix, task) = (guesses[n].datatype, guesses[n].suffix, guesses[n].task)
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
            return BIDSName(subject: subjects[n], session: session, datatype: datatype, task: task, acquisition: acquisition, run: nil,
                            suffix: suffix, direction: guesses[n].direction, part: guesses[n].isPhase ? "phase" : nil)
        }
        // Magnitude and phase images, and the echoes of one acquisition, are told apart within one protocol
        // (ProtocolName, else SeriesDescription): other series of the same suffix keep their own names.
        func key(_ n: Int, _ name: BIDSName) -> String {
            let a = series[n].acquisition
            return name.relativeBase + "|" + label(v(a, "ProtocolName").isEmpty ? v(a, "SeriesDescription") : v(a, "ProtocolName"))
        }
        // The magnitude images exported beside phase ones are `part-mag`.
        let phases = Set(names.enumerated().filter { $0.element.part == "phase" }.map { n, name -> String in
            var magnitude = name
            magnitude.part = nil
            return key(n, magnitude)
        })
        for n in names.indices where names[n].part == nil && phases.contains(key(n, names[n])) { names[n].part = "mag" }
        // Multi-echo: series of one protocol that would share a name but differ in EchoNumbers are `echo-<n>`.
        var sameName: [String: [Int]] = [:]
        for (n, name) in names.enumerated() where name.datatype != "fmap" { sameName[key(n, name), default: []].append(n) }
        for members in sameName.values where members.count > 1 {
            let echoes = members.map { series[$0].acquisition.number("EchoNumbers").map { Int($0) } }
            guard echoes.allSatisfy({ $0 != nil }), Set(echoes.compactMap { $0 }).count == members.count else { continue }
            for (n, e) in zip(members, echoes) { names[n].echo = e }
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
