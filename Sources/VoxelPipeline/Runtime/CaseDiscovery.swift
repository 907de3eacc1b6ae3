import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// What became of one file of the archive in a run (a line of `inputs.jsonl`).
public struct InventoryEntry: Sendable, Equatable {
    /// What happened to the file.
    public enum Status: String, Sendable {
        /// Read as (part of) an input of a case.
        case used
        /// A DICOM object that is not an image (SEG, RTSTRUCT, SR, DICOMDIR…).
        case nonImage = "non-image"
        /// Not DICOM, or a DICOM file that cannot be used (the reason says why).
        case unreadable
        /// Left out by a rule of the pipeline (the modality filter or a `select` rule, named).
        case filtered
        /// A second file for the same slice position; the kept file is named.
        case duplicate
        /// A file that no NIfTI input pattern matches.
        case unmatched
    }

    /// The file, relative to the archive.
    public var file: String
    public var status: Status
    /// The case the file belongs to (used, duplicate), if any.
    public var caseID: String?
    /// The input name (used).
    public var input: String?
    /// Why (unreadable, filtered, non-image) or what was kept instead (duplicate).
    public var reason: String?

    /// The `inputs.jsonl` line.
    public var json: JSON {
        var m: [(String, JSON)] = [("file", .string(file)), ("status", .string(status.rawValue))]
        if let caseID { m.append(("case", .string(caseID))) }
        if let input { m.append(("input", .string(input))) }
        if let reason { m.append(("reason", .string(reason))) }
        return .object(m)
    }
}

/// The cases found in an archive and an account of every file looked at.
public struct Discovery: Sendable {
    /// The cases, sorted by id, ids unique.
    public var cases: [Case]
    /// Every file of the archive and what became of it, sorted by file.
    public var inventory: [InventoryEntry]
    /// Why there are no cases, when there are none.
    public var emptyReason: String?
}

/// Finds the cases of a pipeline in an archive folder.
public enum CaseDiscovery {
    /// The cases in `archive`, sorted by id. Ids are unique: clashes get `-2`, `-3`, … in a fixed order.
    /// - Parameter scanThreads: threads for reading DICOM headers.
    /// - Throws: `RunError.archive` when the archive is not a readable folder.
    public static func discover(_ spec: PipelineSpec, archive: String, scanThreads: Int = ComputeBudget.threads) throws -> [Case] {
        try survey(spec, archive: archive, scanThreads: scanThreads).cases
    }

    /// The cases in `archive` with an account of every file (used, non-image, unreadable, filtered,
    /// duplicate, unmatched) and, when no case was found, the reason. Reference inputs are added to every
    /// case.
    /// - Throws: `RunError.archive` when the archive is not a readable folder.
    public static func survey(_ spec: PipelineSpec, archive: String, scanThreads: Int = ComputeBudget.threads) throws -> Discovery {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: archive, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunError.archive(path: archive, reason: "not a folder (the archive is a folder of DICOM or NIfTI files)")
        }
        // Absolute and free of symbolic links, as the DICOM scanner reports paths, so that records can
        // give every path relative to the archive.
        let root = realpath(archive, nil).map { p in defer { free(p) }; return String(cString: p) } ?? archive
        guard let primary = spec.inputs.first(where: \.source.definesCases) else {
            return Discovery(cases: [], inventory: [], emptyReason: "the pipeline has no input that defines cases")
        }
        var discovery: Discovery
        switch primary.source {
        case .dicomSeries(let options):
            discovery = try dicomCases(primary, options: options, archive: root, threads: scanThreads,
                                       labelInputs: spec.inputs.filter { if case .dicomLabels = $0.source { return true } else { return false } })
        case .nifti, .reference, .dicomLabels:
            discovery = niftiCases(spec.inputs.filter(\.source.definesCases), archive: root)
        }
        for r in spec.inputs where !r.source.definesCases {
            guard case .reference(let path) = r.source else { continue }
            for n in discovery.cases.indices {
                discovery.cases[n].inputs[r.name] = CaseInput(name: r.name, kind: r.kind, source: .niftiFile(path), archive: root)
            }
        }
        discovery.inventory.sort { $0.file < $1.file }
        return discovery
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

    static func dicomCases(_ input: InputSpec, options: DICOMInputOptions, archive: String, threads: Int, labelInputs: [InputSpec] = []) throws -> Discovery {
        // A batch walks the whole tree even under a DICOMDIR: a stale index must not hide series from a run.
        let scan = try DICOMScanner.scan(archive, threads: threads, useIndex: false)
        func rel(_ p: String) -> String { CaseInput.relative(p, to: archive) }
        var inventory: [InventoryEntry] = []
        inventory += scan.unreadable.map { InventoryEntry(file: rel($0.path), status: .unreadable, reason: $0.reason) }
        // SEG and RTSTRUCT objects by the series they refer to, when a dicom-labels input wants them.
        var objectsBySeries: [String: [String]] = [:]
        if !labelInputs.isEmpty {
            for r in scan.nonImages {
                if let uid = DICOMSegmentation.referencedSeriesUID(r.path) ?? DICOMRTStruct.referencedSeriesUID(r.path) {
                    objectsBySeries[uid, default: []].append(r.path)
                }
            }
        }
        var usedObjects: [String: (caseID: String, input: String)] = [:]
        let wanted = Set(options.modalities.map { $0.uppercased() })
        let ordered = scan.stacks.sorted {
            ($0.header.seriesInstanceUID, $0.header.patientID, $0.slices.first?.path ?? "") < ($1.header.seriesInstanceUID, $1.header.patientID, $1.slices.first?.path ?? "")
        }
        var candidates: [DICOMStack] = []
        var filtered: [(DICOMStack, String)] = []
        for stack in ordered {
            if wanted.isEmpty || wanted.contains(stack.header.modality.uppercased()) {
                candidates.append(stack)
            } else {
                filtered.append((stack, "modality \(stack.header.modality) is not \(options.modalities.joined(separator: " or "))"))
            }
        }
        let (selected, rejected) = options.selection.apply(candidates)
        filtered += rejected.map { (candidates[$0.index], "select.\($0.reason)") }
        var cases = uniqued(selected.map { n -> Case in
            let stack = candidates[n]
            let id = CaseNaming.name(options.caseName, header: stack.header)
            let inputValue = CaseInput(name: input.name, kind: .image, source: .dicomSeries(stack, options), archive: archive)
            return Case(id: id, inputs: [input.name: inputValue], problem: nil)
        })
        for n in cases.indices {
            guard case .dicomSeries(let stack, _)? = cases[n].inputs[input.name]?.source else { continue }
            for l in labelInputs {
                let found = (objectsBySeries[stack.header.seriesInstanceUID] ?? []).sorted()
                if found.count == 1, let path = found.first {
                    cases[n].inputs[l.name] = CaseInput(name: l.name, kind: .labels, source: .dicomObject(path: path, series: stack), archive: archive)
                    usedObjects[path] = (cases[n].id, l.name)
                } else if cases[n].problem == nil {
                    cases[n].problem = found.isEmpty
                        ? "input \"\(l.name)\": no DICOM SEG or RTSTRUCT in the archive refers to series \(stack.header.seriesInstanceUID)"
                        : "input \"\(l.name)\": \(found.count) DICOM SEG or RTSTRUCT objects refer to series \(stack.header.seriesInstanceUID) (\(found.map(rel).joined(separator: ", "))); keep one in the archive"
                }
            }
        }
        for r in scan.nonImages {
            if let use = usedObjects[r.path] {
                inventory.append(InventoryEntry(file: rel(r.path), status: .used, caseID: use.caseID, input: use.input))
            } else {
                inventory.append(InventoryEntry(file: rel(r.path), status: .nonImage, reason: r.reason))
            }
        }
        var accounted = Set<String>()
        for c in cases {
            guard case .dicomSeries(let stack, _)? = c.inputs[input.name]?.source else { continue }
            for path in Set(stack.files).sorted() where accounted.insert(path).inserted {
                inventory.append(InventoryEntry(file: rel(path), status: .used, caseID: c.id, input: input.name))
            }
            for d in stack.droppedDuplicates where accounted.insert(d.path).inserted {
                inventory.append(InventoryEntry(file: rel(d.path), status: .duplicate, caseID: c.id, reason: "same slice position as \(rel(d.kept)), which was kept"))
            }
        }
        for (stack, why) in filtered {
            for path in Set(stack.files + stack.droppedDuplicates.map(\.path)).sorted() where accounted.insert(path).inserted {
                inventory.append(InventoryEntry(file: rel(path), status: .filtered, reason: "series \(stack.label): \(why)"))
            }
        }
        var reason: String?
        if cases.isEmpty {
            var why = "no case: \(scan.filesScanned) file(s) scanned in \(archive): \(scan.stacks.count) image stack(s), \(scan.nonImages.count) non-image object(s), \(scan.unreadable.count) unreadable file(s)"
            if let first = filtered.first { why += "; \(filtered.count) stack(s) left out by the input's rules (e.g. \(first.0.label): \(first.1))" }
            reason = why
        }
        return Discovery(cases: cases, inventory: inventory, emptyReason: reason)
    }

    static func niftiCases(_ inputs: [InputSpec], archive: String) -> Discovery {
        var matchesByInput: [[String: String]] = []
        for input in inputs {
            guard case .nifti(let pattern) = input.source else { matchesByInput.append([:]); continue }
            matchesByInput.append(CasePattern.matches(pattern, in: archive))
        }
        guard let primary = matchesByInput.first else { return Discovery(cases: [], inventory: [], emptyReason: "no input pattern") }
        let cases = uniqued(primary.keys.sorted().map { key in
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
        })
        var inventory: [InventoryEntry] = []
        var used = Set<String>()
        for c in cases {
            for (name, input) in c.inputs.sorted(by: { $0.key < $1.key }) {
                if case .niftiFile(let path) = input.source, used.insert(path).inserted {
                    inventory.append(InventoryEntry(file: CaseInput.relative(path, to: archive), status: .used, caseID: c.id, input: name))
                }
            }
        }
        // Every other file of the archive, so that nothing goes unaccounted for.
        for path in (try? DICOMScanner.listFiles(archive)) ?? [] where !used.contains(path) {
            inventory.append(InventoryEntry(file: CaseInput.relative(path, to: archive), status: .unmatched, reason: "matches no input pattern"))
        }
        var reason: String?
        if cases.isEmpty {
            let patterns = inputs.compactMap { i -> String? in if case .nifti(let p) = i.source { return "\"\(p)\"" } else { return nil } }
            reason = "no case: the pattern \(patterns.first ?? "") matches no file in \(archive)"
        }
        return Discovery(cases: cases, inventory: inventory, emptyReason: reason)
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
