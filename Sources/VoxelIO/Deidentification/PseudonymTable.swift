import Foundation

/// Pseudonyms chosen by the user for their patients: a CSV file whose rows are
/// `original PatientID,pseudonym[,pseudonym name]` (a header row naming `patient_id` and lines starting with
/// `#` are skipped). Patients it does not list get a keyed pseudonym (`DeidentificationKey.pseudonym(for:)`).
public struct PseudonymTable: Sendable, Equatable {
    /// One patient's pseudonym: the new Patient ID and Patient's Name.
    public struct Entry: Sendable, Equatable {
        public let id: String
        public let name: String
    }

    /// Entries by original Patient ID.
    public let entries: [String: Entry]

    /// An empty table.
    public init() { entries = [:] }

    /// Entries given directly.
    public init(entries: [String: Entry]) { self.entries = entries }

    /// Reads a pseudonym CSV.
    /// - Throws: `DeidentificationError.invalidMap` naming the line: too few columns, an empty or over-long
    ///   (64 characters) pseudonym, a Patient ID listed twice, or a pseudonym given to two patients.
    public init(csv path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DeidentificationError.invalidMap(path: path, line: 0, reason: "cannot read the file")
        }
        var entries: [String: Entry] = [:]
        var owners: [String: String] = [:]
        for (n, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if n == 0 && fields.first?.lowercased() == "patient_id" { continue }
            guard fields.count >= 2, !fields[0].isEmpty else {
                throw DeidentificationError.invalidMap(path: path, line: n + 1, reason: "expected `original PatientID,pseudonym[,pseudonym name]`")
            }
            let id = fields[1], name = fields.count > 2 && !fields[2].isEmpty ? fields[2] : fields[1]
            guard !id.isEmpty, id.count <= 64, name.count <= 64 else {
                throw DeidentificationError.invalidMap(path: path, line: n + 1, reason: "a pseudonym must have 1 to 64 characters")
            }
            guard entries[fields[0]] == nil else {
                throw DeidentificationError.invalidMap(path: path, line: n + 1, reason: "this Patient ID is listed twice")
            }
            if let other = owners[id], other != fields[0] {
                throw DeidentificationError.invalidMap(path: path, line: n + 1, reason: "pseudonym '\(id)' is already given to another patient")
            }
            owners[id] = fields[0]
            entries[fields[0]] = Entry(id: id, name: name)
        }
        self.entries = entries
    }
}
