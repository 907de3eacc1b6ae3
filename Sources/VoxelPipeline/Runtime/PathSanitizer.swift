/// Turns identifiers taken from scans (PatientID, SeriesNumber, file names) into safe path components.
///
/// The result uses only ASCII letters, digits, '-', '_' and '.', never starts with '.', is never empty
/// and is at most 80 characters long, so an identifier such as `../../etc` can never name a folder outside
/// the output folder (it becomes `etc`).
public enum PathSanitizer {
    /// A safe single path component for `identifier`.
    public static func component(_ identifier: String) -> String {
        var out = ""
        var lastWasSeparator = false
        for scalar in identifier.unicodeScalars {
            let ok = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "-" || scalar == "." || scalar == "_"
            if ok && scalar != "." || (scalar == "." && !out.isEmpty && !lastWasSeparator && out.last != ".") {
                out.unicodeScalars.append(scalar)
                lastWasSeparator = false
            } else if !out.isEmpty && !lastWasSeparator {
                out += "_"
                lastWasSeparator = true
            }
        }
        while let last = out.last, last == "_" || last == "." { out.removeLast() }
        if out.count > 80 { out = String(out.prefix(80)) }
        return out.isEmpty ? "unnamed" : out
    }
}
