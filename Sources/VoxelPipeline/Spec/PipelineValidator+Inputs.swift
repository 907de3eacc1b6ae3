import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// The inputs section of a pipeline: input names, types, patterns and DICOM series selection.
extension Checker {
    mutating func inputs(_ node: JSONNode) -> [InputSpec] {
        guard case .object(let list) = node.value else {
            issue("inputs", node, "expected an object of named inputs, found \(node.typeName)")
            return []
        }
        if list.isEmpty { issue("inputs", node, "a pipeline needs at least one input") }
        var result: [InputSpec] = []
        var names = Set<String>()
        for m in list {
            let path = "inputs.\(m.key)"
            if !names.insert(m.key).inserted { issue(path, m, "duplicate input \"\(m.key)\""); continue }
            if !Identifier.isValid(m.key) { issue(path, m, Identifier.rule) }
            if let spec = input(m.key, m.value, path: path) { result.append(spec) }
        }
        let dicom = result.filter { if case .dicomSeries = $0.source { return true } else { return false } }
        let defining = result.filter(\.source.definesCases)
        if !dicom.isEmpty && defining.count > 1 {
            issue("inputs", node, "a dicom-series input must be the only input that defines cases (each series is one case); files shared by every case are \"reference\" inputs")
        }
        for spec in result {
            guard case .dicomLabels(let of) = spec.source else { continue }
            let target = result.first { $0.name == of }
            var isSeries = false
            if case .dicomSeries? = target?.source { isSeries = true }
            if !isSeries {
                let at = list.first { $0.key == spec.name }?.value ?? node
                issue("inputs.\(spec.name).of", at.member("of")?.value ?? at, target == nil ? "no input \"\(of)\"; \"of\" names the dicom-series input whose SEG or RTSTRUCT is wanted" : "input \"\(of)\" is not a dicom-series input; a SEG or RTSTRUCT refers to a DICOM series")
            }
        }
        if defining.isEmpty && !result.isEmpty {
            issue("inputs", node, "a pipeline needs an input that defines the cases (\"nifti\" or \"dicom-series\"); \"reference\" inputs are shared by the cases")
        }
        // The case-defining input comes first: it is the one discovery starts from.
        return defining + result.filter { !$0.source.definesCases }
    }

    mutating func input(_ name: String, _ node: JSONNode, path: String) -> InputSpec? {
        guard let keys = members(node, path: path, allowed: inputKeys) else { return nil }
        guard let typeMember = keys["type"] else { issue(path, node, "missing key \"type\" (\"nifti\" or \"dicom-series\")"); return nil }
        let type = typeMember.value.string ?? ""
        var kind = ValueKind.image
        if let a = keys["as"] {
            switch a.value.string {
            case "image"?: kind = .image
            case "labels"?: kind = .labels
            default: issue("\(path).as", a.value, "expected \"image\" or \"labels\"")
            }
        }
        func only(_ allowed: [String], for what: String) {
            for (k, m) in keys where !allowed.contains(k) && inputKeys.contains(k) {
                issue("\(path).\(k)", m, "\"\(k)\" does not apply to \(what) inputs")
            }
        }
        switch type {
        case "nifti":
            only(["type", "as", "pattern"], for: "nifti")
            guard let p = keys["pattern"] else { issue(path, node, "missing key \"pattern\" (e.g. \"images/*.nii.gz\")"); return nil }
            guard let pattern = p.value.string else { issue("\(path).pattern", p.value, "expected a string"); return nil }
            if let problem = CasePattern.problem(pattern) { issue("\(path).pattern", p.value, problem); return nil }
            return InputSpec(name: name, kind: kind, source: .nifti(pattern: pattern))
        case "dicom-series":
            only(["type", "as", "modality", "suv", "resampleSlices", "refuseTilt", "caseName", "select"], for: "dicom-series")
            if kind != .image { issue("\(path).as", keys["as"].map(\.value) ?? node, "a dicom-series input is an image") }
            var options = DICOMInputOptions(modalities: [], suv: false, resampleSlices: false, caseName: DICOMInputOptions.defaultCaseName)
            if let m = keys["modality"] {
                switch m.value.value {
                case .string(let s): options.modalities = [s]
                case .array(let items) where items.allSatisfy({ $0.string != nil }): options.modalities = items.compactMap(\.string)
                default: issue("\(path).modality", m.value, "expected a modality string or an array of them (e.g. [\"CT\"])")
                }
            }
            for (key, setter) in [("suv", { (o: inout DICOMInputOptions, b: Bool) in o.suv = b }),
                                  ("resampleSlices", { (o: inout DICOMInputOptions, b: Bool) in o.resampleSlices = b }),
                                  ("refuseTilt", { (o: inout DICOMInputOptions, b: Bool) in o.refuseTilt = b })] {
                if let m = keys[key] {
                    if case .bool(let b) = m.value.value { setter(&options, b) } else { issue("\(path).\(key)", m.value, "expected true or false, found \(m.value.typeName)") }
                }
            }
            if let c = keys["caseName"] {
                if let s = c.value.string, let problem = CaseNaming.problem(s) {
                    issue("\(path).caseName", c.value, problem)
                } else if let s = c.value.string {
                    options.caseName = s
                } else {
                    issue("\(path).caseName", c.value, "expected a string")
                }
            }
            if let m = keys["select"] { options.selection = selection(m.value, path: "\(path).select") }
            return InputSpec(name: name, kind: .image, source: .dicomSeries(options))
        case "reference":
            only(["type", "as", "path"], for: "reference")
            guard let p = keys["path"] else { issue(path, node, "missing key \"path\" (a NIfTI file shared by every case)"); return nil }
            guard let file = p.value.string, !file.isEmpty else { issue("\(path).path", p.value, "expected a file path"); return nil }
            let full = file.hasPrefix("/") ? file : "\(directory)/\(file)"
            do {
                _ = try NIfTI.readHeader(full)
            } catch {
                issue("\(path).path", p.value, FileManager.default.fileExists(atPath: full) ? "\(error)" : "no such file \(full)")
                return nil
            }
            return InputSpec(name: name, kind: kind, source: .reference(path: full))
        case "dicom-labels":
            only(["type", "as", "of"], for: "dicom-labels")
            if let a = keys["as"], a.value.string != "labels" { issue("\(path).as", a.value, "a dicom-labels input is a label map") }
            guard let o = keys["of"] else { issue(path, node, "missing key \"of\" (the dicom-series input the SEG or RTSTRUCT refers to)"); return nil }
            guard let of = o.value.string, !of.isEmpty else { issue("\(path).of", o.value, "expected the name of a dicom-series input"); return nil }
            return InputSpec(name: name, kind: .labels, source: .dicomLabels(of: of))
        default:
            issue("\(path).type", typeMember.value, "unknown input type \(typeMember.value.json.serialized(pretty: false)); expected \"nifti\", \"dicom-series\", \"dicom-labels\" or \"reference\""
                  + DidYouMean.suffix(type, among: ["nifti", "dicom-series", "dicom-labels", "reference"]))
            return nil
        }
    }

    /// Reads a `select` object of series selection rules.
    mutating func selection(_ node: JSONNode, path: String) -> DICOMSeriesSelection {
        var rules = DICOMSeriesSelection()
        guard let keys = members(node, path: path, allowed: selectKeys) else { return rules }
        func regex(_ key: String) -> String? {
            guard let m = keys[key] else { return nil }
            guard let s = m.value.string else { issue("\(path).\(key)", m.value, "expected a regular expression string"); return nil }
            if let problem = DICOMSeriesSelection.regexProblem(s) { issue("\(path).\(key)", m.value, problem); return nil }
            return s
        }
        rules.modality = regex("modality")
        rules.seriesDescription = regex("seriesDescription")
        rules.protocolName = regex("protocolName")
        rules.bodyPartExamined = regex("bodyPartExamined")
        /// A rule given as one value or an array of them.
        func items(_ node: JSONNode) -> [JSONNode] {
            if case .array(let list) = node.value { return list }
            return [node]
        }
        if let m = keys["imageType"] {
            for item in items(m.value) {
                if let s = item.string, !s.isEmpty, s != "!" { rules.imageType.append(s) } else {
                    issue("\(path).imageType", item, "expected ImageType values such as \"ORIGINAL\" or \"!LOCALIZER\"")
                }
            }
        }
        func range(_ key: String) -> ClosedRange<Double>? {
            guard let m = keys[key] else { return nil }
            if case .array(let list) = m.value.value, list.count == 2,
               case .number(let lo) = list[0].value, case .number(let hi) = list[1].value, lo.isFinite, hi.isFinite, lo >= 0, lo <= hi {
                return lo...hi
            }
            issue("\(path).\(key)", m.value, "expected [minimum, maximum] with 0 ≤ minimum ≤ maximum")
            return nil
        }
        rules.slices = range("slices")
        rules.sliceThickness = range("sliceThickness")
        rules.sliceSpacing = range("sliceSpacing")
        rules.pixelSpacing = range("pixelSpacing")
        if let m = keys["orientation"] {
            let names = DICOMSeriesSelection.Plane.allCases.map(\.rawValue)
            for item in items(m.value) {
                if let s = item.string, let plane = DICOMSeriesSelection.Plane(rawValue: s.lowercased()) { rules.planes.append(plane) } else {
                    issue("\(path).orientation", item, "expected \(names.map { "\"\($0)\"" }.joined(separator: ", ")) or an array of them"
                          + DidYouMean.suffix(item.string ?? "", among: names))
                }
            }
        }
        if let m = keys["bestPerStudy"] {
            let names = DICOMSeriesSelection.Best.allCases.map(\.rawValue)
            if let s = m.value.string, let best = DICOMSeriesSelection.Best(rawValue: s) { rules.bestPerStudy = best } else {
                issue("\(path).bestPerStudy", m.value, "expected \(names.map { "\"\($0)\"" }.joined(separator: " or "))" + DidYouMean.suffix(m.value.string ?? "", among: names))
            }
        }
        return rules
    }
}
