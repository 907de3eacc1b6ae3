/// Output file names from a series' attributes, with dcm2niix's `-f` specifiers: `%p` protocol, `%s` series
/// number, `%d` description, `%e` echo number, `%u` acquisition number, `%r` instance number of the first file,
/// `%z` sequence name, `%m` manufacturer (short), `%v` vendor (as stored), `%a` receive coil, `%t` study
/// date and acquisition time (YYYYMMDDHHMMSS), `%b` first file's name, `%f` its folder's name, `%j` series
/// UID, `%k` study UID, `%x` study ID, `%i` patient ID, `%n` patient name, `%%` a percent sign. A number between
/// `%` and the letter pads with zeros (`%4s` → `0012`). Characters other than letters, digits, `-`, `_` and
/// `.` become `_`, so a name never leaves its folder.
public struct DICOMNameTemplate: Sendable, Equatable {
    /// The template text.
    public let template: String

    /// Checks the specifiers of `template`.
    /// - Throws: `DICOMNameTemplate.Error` naming an unknown specifier or an empty template.
    public init(_ template: String) throws {
        guard !template.isEmpty else { throw Error(message: "the name template is empty") }
        var chars = Array(template)[...]
        while let c = chars.popFirst() {
            guard c == "%" else { continue }
            while let d = chars.first, d.isNumber { chars.removeFirst() }
            guard let letter = chars.popFirst() else { throw Error(message: "the name template \"\(template)\" ends with %") }
            guard letter == "%" || Self.letters.contains(letter) else {
                throw Error(message: "unknown specifier %\(letter) in the name template \"\(template)\" (known: %\(Self.letters.map(String.init).joined(separator: " %")))")
            }
        }
        self.template = template
    }

    static let letters: [Character] = ["a", "b", "d", "e", "f", "i", "j", "k", "m", "n", "p", "r", "s", "t", "u", "v", "x", "z"]

    /// A template that cannot be used.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        /// What is wrong.
        public let message: String
        /// The message.
        public var description: String { message }
    }

    /// The file name (without extension) for a series whose first file is `path` with attributes `a`.
    public func name(acquisition a: DICOMAcquisition, firstFile path: String) -> String {
        var out = ""
        var chars = Array(template)[...]
        while let c = chars.popFirst() {
            guard c == "%" else { out.append(c); continue }
            var width = 0
            while let d = chars.first, let v = d.wholeNumberValue { width = min(width * 10 + v, 16); chars.removeFirst() }
            guard let letter = chars.popFirst() else { break }
            var value = letter == "%" ? "%" : field(letter, a, path)
            if width > 0, value.count < width, value.allSatisfy(\.isNumber) {
                value = String(repeating: "0", count: width - value.count) + value
            }
            out += value
        }
        let safe = String(out.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
        let trimmed = safe.trimmingCharacters(in: ["."])
        return trimmed.isEmpty ? "series" : trimmed
    }

    func field(_ letter: Character, _ a: DICOMAcquisition, _ path: String) -> String {
        func v(_ key: String) -> String { (a.values[key] ?? "").trimmingCharacters(in: [" "]) }
        func int(_ key: String) -> String { a.number(key).flatMap { Int(exactly: $0.rounded()) }.map(String.init) ?? "" }
        let file = path.split(separator: "/").last.map(String.init) ?? path
        switch letter {
        case "a": return v("ReceiveCoilName")
        case "b": return file
        case "d": return v("SeriesDescription")
        case "e": return int("EchoNumbers").isEmpty ? "1" : int("EchoNumbers")
        case "f":
            let parts = path.split(separator: "/")
            return parts.count >= 2 ? String(parts[parts.count - 2]) : ""
        case "i": return v("PatientID")
        case "j": return v("SeriesInstanceUID")
        case "k": return v("StudyInstanceUID")
        case "m": return v("Manufacturer").isEmpty ? "" : DICOMSidecar.manufacturer(v("Manufacturer"))
        case "n": return v("PatientName")
        case "p": return v("ProtocolName").isEmpty ? v("SeriesDescription") : v("ProtocolName")
        case "r": return int("InstanceNumber")
        case "s": return int("SeriesNumber")
        case "t":
            let time = String(v("AcquisitionTime").prefix { $0.isNumber }.prefix(6))
            return v("StudyDate") + time
        case "u": return int("AcquisitionNumber")
        case "v": return v("Manufacturer")
        case "x": return v("StudyID")
        case "z": return v("SequenceName")
        default: return ""
        }
    }
}
