import Foundation

/// What happens to each attribute of one file: PS3.15 Annex E's Basic Profile (`AnnexE.rows`) with the
/// profile's options, applied at every nesting depth. A pure value: the same inputs give the same decisions.
///
/// How the table's actions are carried out:
/// - X removes the attribute; Z empties it; D writes a dummy (`ANONYMIZED`, `ANONYMOUS` for names, 0 for
///   numbers, 19000101 / 000000 for dates and times); U replaces each UID with `DeidentificationKey.uid(for:)`.
/// - Where the table allows several actions, the first that keeps the object valid in practice: Z/D → D,
///   X/Z → Z, X/D → X, X/Z/D → Z, X/Z/U* → the sequence is kept and the UIDs inside it are replaced.
/// - A sequence whose action is D (Content Sequence, …) or which the table does not list is kept and its items
///   go through the same rules; X removes it whole and Z empties it.
/// - Patient's Name and Patient ID become the patient's pseudonym (from the map, else keyed); overlays
///   (groups 6000–601E) are removed whole, as their data is; private attributes are removed unless
///   retain-safe-private keeps them and they are in `safePrivate`.
/// - Attributes the table does not list are kept.
public struct DeidentificationPolicy: Sendable {
    /// The decision for one attribute.
    public enum Decision: Equatable, Sendable {
        case keep, remove, empty
        case replace(String)
    }

    /// The profile and its options.
    public let profile: DeidentificationProfile
    /// The secret behind UIDs, pseudonyms and date offsets.
    public let key: DeidentificationKey
    /// The new Patient ID.
    public let pseudonym: String
    /// The new Patient's Name.
    public let pseudonymName: String
    /// Days every date moves back under shift-dates.
    public let dayOffset: Int
    /// Identifiers of this file cut out of descriptors under clean-descriptors (longest first).
    public let identifiers: [String]

    /// A policy for one patient's file.
    public init(profile: DeidentificationProfile, key: DeidentificationKey, pseudonym: String, pseudonymName: String,
                dayOffset: Int, identifiers: [String]) {
        self.profile = profile
        self.key = key
        self.pseudonym = pseudonym
        self.pseudonymName = pseudonymName
        self.dayOffset = dayOffset
        self.identifiers = identifiers.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
    }

    /// Private attributes kept by retain-safe-private: creator → element bytes (the low byte of the element).
    /// Acquisition parameters only, which readers need for MOSAIC and diffusion series.
    public static let safePrivate: [String: Set<UInt16>] = [
        "SIEMENS CSA HEADER": [0x08, 0x09, 0x10],  // CSA image header: mosaic tiles, slice normal, b-value
        "SIEMENS MR HEADER": [0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x27, 0x28, 0x29],  // mosaic, diffusion
        "GEMS_PARM_01": [0x39],  // b-value
        "GEMS_ACQU_01": [0xBB, 0xBC, 0xBD],  // diffusion gradient direction
    ]

    /// Kept under retain-patient-characteristics: sex, age, size, weight, ethnic group, smoking status,
    /// pregnancy status, sex neutered.
    public static let patientCharacteristics: Set<UInt32> = [
        0x0010_0040, 0x0010_1010, 0x0010_1020, 0x0010_1030, 0x0010_2160, 0x0010_21A0, 0x0010_21C0, 0x0010_2203,
    ]

    /// Kept and cleaned under clean-descriptors: study, series and procedure descriptions, protocol name,
    /// comments, derivation and processing descriptions, contrast agent, patient history.
    public static let descriptors: Set<UInt32> = [
        0x0008_1030, 0x0008_103E, 0x0018_1030, 0x0020_4000, 0x0008_2111, 0x0040_0254, 0x0032_1060, 0x0040_0007,
        0x0018_1400, 0x0018_4000, 0x0008_1080, 0x0010_21B0, 0x0018_0010,
    ]

    /// The decision for one attribute (`value`: its text for text VRs, else nil).
    public func decide(group: UInt16, element: UInt16, vr: String, isSequence: Bool, privateCreator: String?, value: String?) -> Decision {
        let tag = UInt32(group) << 16 | UInt32(element)
        if group == 0x0002 { return .keep }
        if group & 1 == 1 { return decidePrivate(element: element, privateCreator: privateCreator, value: value) }
        if group >= 0x6000 && group <= 0x601E && group & 1 == 0 { return .remove }
        switch tag {
        case 0x0010_0010: return .replace(pseudonymName)
        case 0x0010_0020: return .replace(pseudonym)
        default: break
        }
        let options = profile.options
        if options.contains(.retainPatientCharacteristics) && Self.patientCharacteristics.contains(tag) { return .keep }
        if options.contains(.cleanDescriptors) && Self.descriptors.contains(tag) {
            guard let value else { return .remove }
            return .replace(clean(value))
        }
        guard let row = AnnexE.row(group: group, element: element) else { return .keep }
        let temporal = vr == "DA" || vr == "DT" || vr == "TM"
        if temporal && !isSequence {
            if options.contains(.retainDates) { return .keep }
            if options.contains(.shiftDates) {
                guard let value else { return .remove }
                return vr == "TM" ? .keep : .replace(shift(value, vr: vr))
            }
        }
        switch row.action {
        case .u:
            if options.contains(.retainUIDs) { return .keep }
            return replaceUIDs(value)
        case .xzu:
            if isSequence { return .keep }
            if vr == "UI" { return options.contains(.retainUIDs) ? .keep : replaceUIDs(value) }
            return .empty
        case .x, .xd:
            return .remove
        case .z, .xz, .xzd:
            return .empty
        case .d, .zd:
            return isSequence ? .keep : .replace(Self.dummy(vr: vr))
        }
    }

    private func decidePrivate(element: UInt16, privateCreator: String?, value: String?) -> Decision {
        guard profile.options.contains(.retainSafePrivate) else { return .remove }
        if (0x0010...0x00FF).contains(element) {
            let creator = (value ?? "").trimmingCharacters(in: .whitespaces)
            return Self.safePrivate[creator] != nil ? .keep : .remove
        }
        guard element >= 0x1000, let creator = privateCreator?.trimmingCharacters(in: .whitespaces),
              let elements = Self.safePrivate[creator], elements.contains(element & 0xFF) else { return .remove }
        return .keep
    }

    private func replaceUIDs(_ value: String?) -> Decision {
        guard let value, !value.isEmpty else { return value == nil ? .remove : .keep }
        let uids = value.split(separator: "\\", omittingEmptySubsequences: false).map {
            let uid = $0.trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
            return uid.isEmpty ? "" : key.uid(for: uid)
        }
        return .replace(uids.joined(separator: "\\"))
    }

    /// A dummy value of the VR's type.
    static func dummy(vr: String) -> String {
        switch vr {
        case "DA": "19000101"
        case "DT": "19000101000000"
        case "TM": "000000"
        case "PN": "ANONYMOUS"
        case "DS", "IS": "0"
        case "AS": "000Y"
        case "UR": "urn:anonymized"
        default: "ANONYMIZED"
        }
    }

    /// `value` with every identifier of the file cut out (case-insensitive), white space tidied.
    func clean(_ value: String) -> String {
        var text = value
        for identifier in identifiers {
            text = text.replacingOccurrences(of: identifier, with: "", options: [.caseInsensitive])
        }
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// Dates (DA) or date-times (DT) moved back by `dayOffset` days; values that are not complete dates
    /// become empty rather than pass through.
    func shift(_ value: String, vr: String) -> String {
        value.split(separator: "\\", omittingEmptySubsequences: false).map { part -> String in
            let text = part.trimmingCharacters(in: .whitespaces)
            guard text.count >= 8, let date = CivilDate(text.prefix(8)) else { return "" }
            let moved = date.adding(days: -dayOffset).text
            if vr == "DA" { return text.count == 8 ? moved : "" }
            return moved + text.dropFirst(8)
        }.joined(separator: "\\")
    }
}

/// A proleptic Gregorian date (for shifting DICOM dates by whole days).
struct CivilDate: Equatable {
    var year: Int, month: Int, day: Int

    init?(_ text: Substring) {
        guard text.count == 8, text.allSatisfy(\.isASCII), let y = Int(text.prefix(4)),
              let m = Int(text.dropFirst(4).prefix(2)), let d = Int(text.dropFirst(6)),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        year = y
        month = m
        day = d
    }

    init(days z0: Int) {
        // Days since 1970-01-01 to a civil date (the inverse of `days`).
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01.
    var days: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    func adding(days n: Int) -> CivilDate { CivilDate(days: days + n) }

    var text: String {
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(max(v, 0))
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2)
    }
}
