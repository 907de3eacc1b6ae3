import Foundation
import VoxelCore
import VoxelIO

/// Finds the cases of a pipeline in an archive folder.
public enum CaseDiscovery {
    /// The cases in `archive`, sorted by id. Ids are unique: clashes get `-2`, `-3`, … in a fixed order.
    /// - Parameter scanThreads: threads for reading DICOM headers.
    /// - Throws: `CaseError` when the archive is not a readable folder.
    public static func discover(_ spec: PipelineSpec, archive: String, scanThreads: Int = System.coreCount) throws -> [Case] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: archive, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CaseError("\(archive): not a folder (the archive is a folder of DICOM or NIfTI files)")
        }
        // Absolute and free of symbolic links, as the DICOM scanner reports paths, so that records can
        // give every path relative to the archive.
        let root = realpath(archive, nil).map { p in defer { free(p) }; return String(cString: p) } ?? archive
        guard let primary = spec.inputs.first else { return [] }
        var cases: [Case]
        switch primary.source {
        case .dicomSeries(let options):
            cases = try dicomCases(primary, options: options, archive: root, threads: scanThreads)
        case .nifti:
            cases = niftiCases(spec.inputs, archive: root)
        }
        return uniqued(cases)
    }

    /// The cases of shard `index` (1-based) of `count`: every `count`-th case of the sorted list starting at
    /// `index - 1`, so the shards of one archive cover each case exactly once.
    public static func shard(_ cases: [Case], index: Int, count: Int) -> [Case] {
        cases.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    static func uniqued(_ cases: [Case]) -> [Case] {
        var used: [String: Int] = [:]
        var result: [Case] = []
        for var c in cases {
            let base = c.id
            if let n = used[base] {
                var k = n + 1
                while used["\(base)-\(k)"] != nil { k += 1 }
                used[base] = k
                c.id = "\(base)-\(k)"
            }
            used[c.id] = used[c.id] ?? 1
            result.append(c)
        }
        return result.sorted { $0.id < $1.id }
    }

    static func dicomCases(_ input: InputSpec, options: DICOMInputOptions, archive: String, threads: Int) throws -> [Case] {
        let scan = try DICOMScanner.scan(archive, threads: threads)
        let wanted = Set(options.modalities.map { $0.uppercased() })
        let stacks = scan.stacks
            .filter { wanted.isEmpty || wanted.contains($0.header.modality.uppercased()) }
            .sorted { ($0.header.seriesInstanceUID, $0.slices.first?.path ?? "") < ($1.header.seriesInstanceUID, $1.slices.first?.path ?? "") }
        return stacks.map { stack in
            let id = CaseNaming.name(options.caseName, header: stack.header)
            let inputValue = CaseInput(name: input.name, kind: .image, source: .dicomSeries(stack, options), archive: archive)
            return Case(id: id, inputs: [input.name: inputValue], problem: nil)
        }
    }

    static func niftiCases(_ inputs: [InputSpec], archive: String) -> [Case] {
        var matchesByInput: [[String: String]] = []
        for input in inputs {
            guard case .nifti(let pattern) = input.source else { matchesByInput.append([:]); continue }
            matchesByInput.append(CasePattern.matches(pattern, in: archive))
        }
        guard let primary = matchesByInput.first else { return [] }
        return primary.keys.sorted().map { key in
            var caseInputs: [String: CaseInput] = [:]
            var missing: [String] = []
            for (input, matches) in zip(inputs, matchesByInput) {
                if let path = matches[key] {
                    caseInputs[input.name] = CaseInput(name: input.name, kind: input.kind, source: .niftiFile(path), archive: archive)
                } else if case .nifti(let pattern) = input.source {
                    missing.append("input \"\(input.name)\": no file \(pattern.replacingOccurrences(of: "*", with: key))")
                }
            }
            return Case(id: PathSanitizer.component(key), inputs: caseInputs,
                        problem: missing.isEmpty ? nil : missing.joined(separator: "; "))
        }
    }
}

/// NIfTI case patterns: a path relative to the archive with exactly one `*`, which matches the case key.
public enum CasePattern {
    /// Why `pattern` is unusable, or nil.
    public static func problem(_ pattern: String) -> String? {
        if pattern.hasPrefix("/") { return "patterns are relative to the archive folder" }
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains(where: { $0 == ".." || $0.isEmpty }) { return "patterns may not contain '..' or empty components" }
        let stars = pattern.filter { $0 == "*" }.count
        if stars != 1 { return "a pattern needs exactly one '*' (it matches the case key), found \(stars)" }
        return nil
    }

    /// Case key → full path of every existing file matching `pattern` under `archive`.
    static func matches(_ pattern: String, in archive: String) -> [String: String] {
        let parts = pattern.split(separator: "/").map(String.init)
        guard let starIndex = parts.firstIndex(where: { $0.contains("*") }) else { return [:] }
        let base = ([archive] + parts[..<starIndex]).joined(separator: "/")
        let starPart = parts[starIndex]
        let rest = parts[(starIndex + 1)...]
        guard let star = starPart.firstIndex(of: "*") else { return [:] }
        let prefix = String(starPart[..<star])
        let suffix = String(starPart[starPart.index(after: star)...])
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [:] }
        var result: [String: String] = [:]
        for entry in entries where entry.count > prefix.count + suffix.count && entry.hasPrefix(prefix) && entry.hasSuffix(suffix) && !entry.hasPrefix(".") {
            let key = String(entry.dropFirst(prefix.count).dropLast(suffix.count))
            let path = ([base, entry] + rest).joined(separator: "/")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[key] = path
            }
        }
        return result
    }
}

/// Case ids of DICOM series, from a template.
public enum CaseNaming {
    static let placeholders = ["patient", "study", "series", "modality", "description", "uid"]

    /// Why `template` is unusable, or nil.
    public static func problem(_ template: String) -> String? {
        var rest = Substring(template)
        var any = false
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { return "unclosed '{' in the case name" }
            let name = String(rest[rest.index(after: open)..<close])
            if !placeholders.contains(name) {
                return "unknown placeholder {\(name)}; use " + placeholders.map { "{\($0)}" }.joined(separator: ", ")
                    + DidYouMean.suffix(name, among: placeholders)
            }
            any = true
            rest = rest[rest.index(after: close)...]
        }
        return any ? nil : "a case name needs at least one placeholder, e.g. {patient} or {uid}"
    }

    /// The sanitised case id of a series.
    public static func name(_ template: String, header: DICOMHeader) -> String {
        let values: [String: String] = [
            "patient": header.patientID.isEmpty ? "anonymous" : header.patientID,
            "study": header.studyDate,
            "series": header.seriesNumber.map(String.init) ?? "",
            "modality": header.modality,
            "description": header.seriesDescription,
            "uid": String(SHA256.hex(Array(header.seriesInstanceUID.utf8)).prefix(12)),
        ]
        var out = template
        for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: v) }
        return PathSanitizer.component(out)
    }
}
