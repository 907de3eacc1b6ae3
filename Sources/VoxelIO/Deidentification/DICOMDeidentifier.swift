import CDCMTK
import Foundation

/// De-identifies DICOM files one at a time, as a `DeidentificationPolicy` says, into a folder laid out as
/// `STUDY/SERIES/INSTANCE.dcm` (the new UIDs). Pixel data is copied unchanged, in the file's own transfer
/// syntax; the meta header is rebuilt; PatientIdentityRemoved, DeidentificationMethod (with its code sequence)
/// and LongitudinalTemporalInformationModified record what was done. Thread-safe: files may be processed in
/// parallel.
public struct DICOMDeidentifier: Sendable {
    /// What became of one input file.
    public enum Outcome: Equatable, Sendable {
        /// Written to the output folder (path relative to it).
        case written(DeidentifiedInstance)
        /// Not written because its pixels may show identifying text (the reason).
        case heldBack(String)
        /// Not written: not a DICOM file, or a DICOMDIR index (the reason; the input is left alone).
        case skipped(String)
        /// Another copy of an instance that is written once (the input path of the copy written).
        case duplicate(of: String)
        /// A DICOM file that could not be de-identified or written (the reason; nothing was written).
        case failed(String)
    }

    /// The new identity of a written instance.
    public struct DeidentifiedInstance: Equatable, Sendable, Codable {
        /// The output file, relative to the output folder.
        public let path: String
        public let studyInstanceUID: String
        public let seriesInstanceUID: String
        public let sopInstanceUID: String
        public let modality: String
        /// The original Patient ID (empty when absent) and the pseudonym that replaced it.
        public let originalPatientID: String
        public let pseudonym: String
    }

    /// The profile and options.
    public let profile: DeidentificationProfile
    /// The secret key.
    public let key: DeidentificationKey
    /// The user's pseudonyms.
    public let pseudonyms: PseudonymTable
    /// Write files flagged by `BurnedInAnnotation` too (they are held back otherwise).
    public let includeBurnedIn: Bool

    /// A de-identifier.
    public init(profile: DeidentificationProfile, key: DeidentificationKey, pseudonyms: PseudonymTable = PseudonymTable(),
                includeBurnedIn: Bool = false) {
        self.profile = profile
        self.key = key
        self.pseudonyms = pseudonyms
        self.includeBurnedIn = includeBurnedIn
    }

    /// The new value of a UID under this de-identifier (the UID itself under retain-uids).
    public func uid(_ original: String) -> String {
        profile.options.contains(.retainUIDs) ? original : key.uid(for: original)
    }

    /// A loaded file, closed when released.
    private final class OpenFile {
        let handle: OpaquePointer
        init(_ handle: OpaquePointer) { self.handle = handle }
        deinit { vf_dicom_close(handle) }
    }

    /// A file de-identified in memory, ready to be saved, or what became of it instead.
    private enum Prepared {
        case ready(OpenFile, DeidentifiedInstance)
        case done(Outcome)
    }

    /// Loads `path` and de-identifies it in memory (burned-in files are held back unless `includeBurnedIn`).
    private func prepare(_ path: String, includeBurnedIn: Bool) -> Prepared {
        var err = [CChar](repeating: 0, count: 512)
        guard let opened = vf_dicom_open(path, 0, &err, err.count) else {
            let reason = DICOMFile.message(err)
            return .done(Self.hasPreamble(path) ? .failed("cannot read the file: \(reason)") : .skipped("not a DICOM file: \(reason)"))
        }
        let file = OpenFile(opened)
        let handle = file.handle
        func string(_ group: UInt16, _ element: UInt16) -> String {
            var buffer = [CChar](repeating: 0, count: 1024)
            guard vf_dicom_get_string(handle, group, element, &buffer, buffer.count) == 0 else { return "" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        }
        if vf_dicom_has_element(handle, 0x0004, 0x1220) != 0 {
            return .done(.skipped("a DICOMDIR index (not copied: its records repeat the identifiers; the output has its own layout)"))
        }
        let sopClass = string(0x0008, 0x0016), sopInstance = string(0x0008, 0x0018)
        let study = string(0x0020, 0x000D), series = string(0x0020, 0x000E), modality = string(0x0008, 0x0060)
        guard !sopClass.isEmpty, !sopInstance.isEmpty else {
            return .done(Self.hasPreamble(path) ? .failed("the file has no SOPClassUID or SOPInstanceUID") : .skipped("not a DICOM instance (no SOP Instance UID)"))
        }
        guard !study.isEmpty, !series.isEmpty else { return .done(.failed("the file has no StudyInstanceUID or SeriesInstanceUID")) }
        if !includeBurnedIn, let reason = BurnedInAnnotation.reason(
            sopClassUID: sopClass, modality: modality, imageType: string(0x0008, 0x0008), burnedInAnnotation: string(0x0028, 0x0301)) {
            return .done(.heldBack(reason))
        }
        // The patient: pseudonym and date offset.
        let patientID = string(0x0010, 0x0020), patientName = string(0x0010, 0x0010), birthDate = string(0x0010, 0x0030)
        let identity = patientID.isEmpty ? "name:\(patientName)|\(birthDate)" : patientID
        let mapped = pseudonyms.entries[patientID]
        let pseudonym = mapped?.id ?? key.pseudonym(for: identity)
        var identifiers = [patientID, string(0x0010, 0x1000), string(0x0008, 0x0050), birthDate, string(0x0008, 0x0080)]
        for nameTag: (UInt16, UInt16) in [(0x0010, 0x0010), (0x0008, 0x0090), (0x0008, 0x1050), (0x0008, 0x1070), (0x0010, 0x1001)] {
            let name = string(nameTag.0, nameTag.1)
            identifiers.append(name)
            identifiers += name.split(whereSeparator: { "^= \\".contains($0) }).map(String.init)
        }
        let policy = DeidentificationPolicy(profile: profile, key: key, pseudonym: pseudonym, pseudonymName: mapped?.name ?? pseudonym,
                                            dayOffset: key.dayOffset(for: identity), identifiers: identifiers.filter { !$0.isEmpty })
        let box = PolicyBox(policy)
        let status = vf_deid_walk(handle, { context, element, replacement, capacity in
            guard let context, let element, let replacement else { return Int32(VF_DEID_STOP) }
            let box = Unmanaged<PolicyBox>.fromOpaque(context).takeUnretainedValue()
            let e = element.pointee
            let vr = withUnsafeBytes(of: e.vr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let decision = box.policy.decide(group: e.group, element: e.element, vr: vr, isSequence: e.is_sequence != 0,
                                             privateCreator: e.private_creator.map { String(cString: $0) },
                                             value: e.value.map { String(cString: $0) })
            switch decision {
            case .keep: return Int32(VF_DEID_KEEP)
            case .remove: return Int32(VF_DEID_REMOVE)
            case .empty: return Int32(VF_DEID_EMPTY)
            case .replace(let text):
                let bytes = Array(text.utf8)
                guard bytes.count < capacity else {
                    box.overflow = String(format: "(%04X,%04X)", e.group, e.element)
                    return Int32(VF_DEID_STOP)
                }
                bytes.withUnsafeBufferPointer { src in
                    replacement.withMemoryRebound(to: UInt8.self, capacity: capacity) { dst in
                        if let base = src.baseAddress { dst.update(from: base, count: bytes.count) }
                        dst[bytes.count] = 0
                    }
                }
                return Int32(VF_DEID_REPLACE)
            }
        }, Unmanaged.passUnretained(box).toOpaque(), &err, err.count)
        guard status == 0 else {
            if let tag = box.overflow { return .done(.failed("the new value of \(tag) is too long to write")) }
            return .done(.failed("cannot de-identify: \(DICOMFile.message(err))"))
        }
        let method = "VoxelFlow: PS3.15 Annex E (\(AnnexE.edition)) profile \(profile.name)"
        let codes = profile.codes
        let finished = withCStrings(codes.map(\.value)) { values in
            withCStrings(codes.map(\.meaning)) { meanings in
                let entries = (0..<codes.count).map { vf_deid_code(value: values[$0], meaning: meanings[$0]) }
                return vf_deid_finish(handle, method, entries, entries.count, profile.temporalInformation)
            }
        }
        guard finished == 0 else { return .done(.failed("cannot record the de-identification method")) }
        let instance = DeidentifiedInstance(
            path: "\(uid(study))/\(uid(series))/\(uid(sopInstance)).dcm", studyInstanceUID: uid(study),
            seriesInstanceUID: uid(series), sopInstanceUID: uid(sopInstance), modality: modality,
            originalPatientID: patientID, pseudonym: pseudonym)
        return .ready(file, instance)
    }

    /// De-identifies `path` into `folder`. With `replace`, an existing output file is replaced; otherwise it is
    /// left alone and the file fails. Never throws: every problem is an outcome.
    public func deidentify(_ path: String, into folder: String, replace: Bool = false) -> Outcome {
        let file: OpenFile, instance: DeidentifiedInstance
        switch prepare(path, includeBurnedIn: includeBurnedIn) {
        case .done(let outcome): return outcome
        case .ready(let f, let i): (file, instance) = (f, i)
        }
        var err = [CChar](repeating: 0, count: 512)
        let handle = file.handle
        let target = (folder.hasSuffix("/") ? folder : folder + "/") + instance.path
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            return .failed("cannot create the output folder: \(error.localizedDescription)")
        }
        let temporary = FileIO.temporaryName(for: target)
        guard vf_deid_save(handle, temporary, &err, err.count) == 0 else {
            unlink(temporary)
            return .failed("cannot write the de-identified file: \(DICOMFile.message(err))")
        }
        // link() refuses an existing target atomically, so two inputs with one SOP Instance UID cannot
        // silently replace each other, and nothing the user already has is overwritten.
        if replace {
            guard rename(temporary, target) == 0 else {
                let why = FileIO.errnoString()
                unlink(temporary)
                return .failed("cannot move the output into place: \(why)")
            }
        } else {
            let linked = link(temporary, target)
            let code = errno
            unlink(temporary)
            guard linked == 0 else {
                return .failed(code == EEXIST
                    ? "its output already exists in the output folder (from an earlier run? --force replaces it)"
                    : "cannot move the output into place: \(String(cString: strerror(code)))")
            }
        }
        return .written(instance)
    }

    /// De-identifies a file VoxelFlow has just written (a SEG, an RTSTRUCT, a Secondary Capture) where it lies:
    /// the result replaces it atomically. Burned-in checks do not apply (the caller made the pixels).
    /// - Returns: the new identity of the instance.
    /// - Throws: `DeidentificationError.file` with the reason.
    @discardableResult
    public func deidentifyInPlace(_ path: String) throws -> DeidentifiedInstance {
        switch prepare(path, includeBurnedIn: true) {
        case .done(let outcome):
            throw DeidentificationError.file(path: path, reason: "cannot de-identify: \(outcome)")
        case .ready(let file, let instance):
            var err = [CChar](repeating: 0, count: 512)
            let temporary = FileIO.temporaryName(for: path)
            guard vf_deid_save(file.handle, temporary, &err, err.count) == 0 else {
                unlink(temporary)
                throw DeidentificationError.file(path: path, reason: "cannot write the de-identified file: \(DICOMFile.message(err))")
            }
            guard rename(temporary, path) == 0 else {
                let why = FileIO.errnoString()
                unlink(temporary)
                throw DeidentificationError.file(path: path, reason: "cannot move the de-identified file into place: \(why)")
            }
            return instance
        }
    }

    /// True when the file starts with a 128-byte preamble and `DICM`.
    static func hasPreamble(_ path: String) -> Bool {
        guard let bytes = try? FileIO.read(path, offset: 128, count: 4, allowShort: true) else { return false }
        return bytes == Array("DICM".utf8)
    }

    private final class PolicyBox {
        let policy: DeidentificationPolicy
        var overflow: String?
        init(_ policy: DeidentificationPolicy) { self.policy = policy }
    }
}

/// Calls `body` with C strings of `strings`, valid only during the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
