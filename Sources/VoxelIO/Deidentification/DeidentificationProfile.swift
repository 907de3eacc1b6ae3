import Foundation

/// Which of PS3.15 Annex E's profile options a de-identification applies on top of the Basic Profile.
public struct DeidentificationProfile: Sendable, Equatable, Codable {
    /// An option of the Basic Application Level Confidentiality Profile (PS3.15 E.3).
    public enum Option: String, Sendable, Codable, CaseIterable, Comparable {
        /// Retain Longitudinal Temporal Information with Full Dates: dates and times are kept.
        case retainDates = "retain-dates"
        /// Retain Longitudinal Temporal Information with Modified Dates: every date moves back by a per-patient
        /// number of days (1 to 3650) derived from the secret key; times of day are kept.
        case shiftDates = "shift-dates"
        /// Retain UIDs: study, series, instance and frame-of-reference UIDs are kept.
        case retainUIDs = "retain-uids"
        /// Clean Descriptors: free-text descriptions (study, series, protocol, comments…) are kept with every
        /// identifier of the same file (names, IDs, accession number, birth date, institution) cut out.
        case cleanDescriptors = "clean-descriptors"
        /// Retain Patient Characteristics: sex, age, size, weight, ethnic group, smoking and pregnancy status.
        case retainPatientCharacteristics = "retain-patient-characteristics"
        /// Retain Safe Private: the private attributes of `DeidentificationPolicy.safePrivate` (MOSAIC and
        /// diffusion parameters) are kept; every other private attribute is removed.
        case retainSafePrivate = "retain-safe-private"

        /// The option's code in DICOM CID 7050 (De-identification Method), scheme DCM.
        public var code: (value: String, meaning: String) {
            switch self {
            case .retainDates: ("113106", "Retain Longitudinal Temporal Information Full Dates Option")
            case .shiftDates: ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")
            case .retainUIDs: ("113110", "Retain UIDs Option")
            case .cleanDescriptors: ("113105", "Clean Descriptors Option")
            case .retainPatientCharacteristics: ("113108", "Retain Patient Characteristics Option")
            case .retainSafePrivate: ("113111", "Retain Safe Private Option")
            }
        }

        public static func < (a: Option, b: Option) -> Bool { a.rawValue < b.rawValue }
    }

    /// The options applied on top of the Basic Profile.
    public var options: Set<Option>

    /// The Basic Profile with `options`.
    public init(options: Set<Option> = []) { self.options = options }

    /// The Basic Profile alone.
    public static let basic = DeidentificationProfile()

    /// Parses a comma-separated list such as `basic,shift-dates,clean-descriptors` (`basic` is implied).
    /// - Throws: `DeidentificationError.invalidProfile` for an unknown name or for `retain-dates` with `shift-dates`.
    public init(parsing text: String) throws {
        var options = Set<Option>()
        for raw in text.split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty || name == "basic" { continue }
            guard let option = Option(rawValue: name) else {
                let known = (["basic"] + Option.allCases.map(\.rawValue)).joined(separator: ", ")
                throw DeidentificationError.invalidProfile("unknown profile option '\(name)' (known: \(known))")
            }
            options.insert(option)
        }
        if options.contains(.retainDates) && options.contains(.shiftDates) {
            throw DeidentificationError.invalidProfile("retain-dates and shift-dates exclude each other: keep the dates, or shift them")
        }
        self.options = options
    }

    /// The profile's name as it was parsed: `basic` followed by the options in alphabetical order.
    public var name: String { (["basic"] + options.sorted().map(\.rawValue)).joined(separator: ",") }

    /// De-identification Method Code Sequence entries: Basic Profile (113100) and one per option.
    public var codes: [(value: String, meaning: String)] {
        [("113100", "Basic Application Confidentiality Profile")] + options.sorted().map(\.code)
    }

    /// The value of LongitudinalTemporalInformationModified (0028,0303) the profile writes.
    public var temporalInformation: String {
        options.contains(.retainDates) ? "UNMODIFIED" : options.contains(.shiftDates) ? "MODIFIED" : "REMOVED"
    }
}
