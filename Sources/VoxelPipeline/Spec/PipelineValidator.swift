import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// Checks a pipeline file completely before any scan is read, collecting every problem with its JSON path,
/// line and column: syntax, unknown keys (with a suggestion), unknown stage types, parameter types and
/// ranges, duplicate ids, dangling or forward references, references to the wrong kind of value, output
/// path clashes and missing resource files.
public struct PipelineValidator {
    public let registry: StageRegistry

    public init(registry: StageRegistry) { self.registry = registry }

    /// Reads, parses and checks the pipeline file at `path`.
    /// - Throws: `PipelineValidationError` listing every problem (an unreadable file is one problem).
    public func load(_ path: String) throws -> PipelineSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            throw PipelineValidationError(file: path, issues: [PipelineIssue(path: "$", line: 0, column: 0, message: why)])
        }
        let bytes = [UInt8](data)
        let directory = (path as NSString).deletingLastPathComponent
        return try validate(bytes: bytes, file: path, directory: directory.isEmpty ? "." : directory, sha256: SHA256.hex(bytes))
    }

    /// Parses and checks pipeline text. `file` names it in errors; `directory` resolves resource paths.
    public func validate(text: String, file: String, directory: String, sha256: String = "") throws -> PipelineSpec {
        try validate(bytes: Array(text.utf8), file: file, directory: directory, sha256: sha256)
    }

    /// Parses and checks the bytes of a pipeline file (which must be UTF-8). `file` names it in errors;
    /// `directory` resolves resource paths.
    public func validate(bytes: [UInt8], file: String, directory: String, sha256: String = "") throws -> PipelineSpec {
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes: bytes)
        } catch let e as JSONSyntaxError {
            throw PipelineValidationError(file: file, issues: [PipelineIssue(path: "$", line: e.line, column: e.column, message: "JSON syntax: \(e.message)")])
        }
        var check = Checker(registry: registry, directory: directory)
        var spec = check.pipeline(root, sha256: sha256)
        // Build every stage whose own parameters are fine, even when other parts of the file have problems,
        // so that one pass reports everything: this catches problems only the stage itself can see (an
        // unusable model file, a program that is not on PATH, an orientation code, contradictory
        // parameters). The built stages go with the spec, so a run does not build them again.
        let stagesWithIssues = Set(check.issues.compactMap { issue -> Int? in
            guard issue.path.hasPrefix("stages["), let close = issue.path.firstIndex(of: "]") else { return nil }
            return Int(issue.path[issue.path.index(issue.path.startIndex, offsetBy: 7)..<close])
        })
        var built: [any Stage] = []
        for (n, s) in check.checkedStages where !stagesWithIssues.contains(n) {
            guard let definition = registry[s.type] else { continue }
            do {
                built.append(try definition.make(StageConfiguration(id: s.id, parameters: s.parameters, pipelineDirectory: directory)))
            } catch {
                check.issues.append(PipelineIssue(path: "stages[\(n)]", line: s.line, column: s.column, message: "stage \"\(s.id)\" cannot be set up: \(error)"))
            }
        }
        if let checked = spec, check.issues.isEmpty, built.count == checked.stages.count { spec?.builtStages = built }
        guard check.issues.isEmpty, let spec else {
            let sorted = check.issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
            throw PipelineValidationError(file: file, issues: sorted)
        }
        return spec
    }
}

/// The keys allowed at the top of a pipeline file.
let pipelineKeys = ["$schema", "voxelflow", "name", "description", "seed", "inputs", "stages", "training"]
/// The keys allowed in an input.
let inputKeys = ["of", "type", "as", "pattern", "modality", "suv", "resampleSlices", "refuseTilt", "caseName", "select", "path"]
/// The keys allowed in a `dicom-series` input's `select` object.
let selectKeys = ["modality", "seriesDescription", "protocolName", "bodyPartExamined", "imageType", "slices",
                  "sliceThickness", "sliceSpacing", "pixelSpacing", "orientation", "bestPerStudy"]

struct Checker {
    let registry: StageRegistry
    let directory: String
    var issues: [PipelineIssue] = []
    /// Every stage read, with its index in the file (also when the pipeline as a whole has problems).
    var checkedStages: [(index: Int, spec: StageSpec)] = []

    init(registry: StageRegistry, directory: String) {
        self.registry = registry
        self.directory = directory
    }

    /// Augmentation stages belong to training pipelines, take the training image or an earlier augmentation
    /// stage, and feed nothing but later augmentation stages (they run per training sample, not per case).
    mutating func augmentationStages(_ stages: [StageSpec], training: TrainingSpec?, trainingSection: Bool) {
        let augmentations = Set(stages.filter { registry[$0.type]?.category == .augmentation }.map(\.id))
        guard !augmentations.isEmpty else { return }
        var allowedSources: Set<String> = training.map { [$0.image] } ?? []
        for (i, s) in stages.enumerated() {
            func problem(_ message: String) { issues.append(PipelineIssue(path: "stages[\(i)]", line: s.line, column: s.column, message: message)) }
            if augmentations.contains(s.id) {
                if !trainingSection {
                    problem("\"\(s.type)\" is a training augmentation: it runs only in `voxelflow train`, in a pipeline with a \"training\" section")
                    continue
                }
                if let source = s.parameters.string("source"), training != nil, !allowedSources.contains(source) {
                    problem("an augmentation stage takes the training image \"\(training?.image ?? "")\" or an earlier augmentation stage, not \"\(source)\"")
                }
                allowedSources.insert(s.id)
            } else if let used = s.references.first(where: augmentations.contains) {
                problem("it takes \"\(used)\", an augmentation stage: augmentations are drawn per training sample, so no preprocessing stage can use them")
            }
        }
        if let training, augmentations.contains(training.image) {
            issues.append(PipelineIssue(path: "training.image", line: 0, column: 0, message: "the training image is the preprocessed value the augmentation stages start from, not an augmentation stage"))
        }
    }

    mutating func issue(_ path: String, _ node: JSONNode, _ message: String) {
        issues.append(PipelineIssue(path: path, line: node.line, column: node.column, message: message))
    }

    mutating func issue(_ path: String, _ member: JSONNode.Member, _ message: String) {
        issues.append(PipelineIssue(path: path, line: member.keyLine, column: member.keyColumn, message: message))
    }

    /// Checks an object's keys: duplicates and unknown ones (with a suggestion).
    mutating func members(_ node: JSONNode, path: String, allowed: [String]) -> [String: JSONNode.Member]? {
        guard case .object(let list) = node.value else {
            issue(path, node, "expected an object, found \(node.typeName)")
            return nil
        }
        var seen: [String: JSONNode.Member] = [:]
        for m in list {
            let p = path == "$" ? m.key : "\(path).\(m.key)"
            if seen[m.key] != nil { issue(p, m, "duplicate key \"\(m.key)\""); continue }
            seen[m.key] = m
            if !allowed.contains(m.key) {
                issue(p, m, "unknown key \"\(m.key)\"" + DidYouMean.suffix(m.key, among: allowed))
            }
        }
        return seen
    }

    mutating func pipeline(_ root: JSONNode, sha256: String) -> PipelineSpec? {
        guard let top = members(root, path: "$", allowed: pipelineKeys) else { return nil }
        if let v = top["voxelflow"] {
            if case .number(let n) = v.value.value, n == Double(PipelineSpec.formatVersion) {
            } else {
                issue("voxelflow", v.value, "unsupported pipeline format version \(v.value.json.serialized(pretty: false)); this build reads version \(PipelineSpec.formatVersion)")
            }
        } else {
            issue("$", root, "missing key \"voxelflow\" (the format version, \(PipelineSpec.formatVersion))")
        }
        var name = ""
        if let n = top["name"] {
            if let s = n.value.string, !s.isEmpty { name = s } else { issue("name", n.value, "expected a non-empty string") }
        } else {
            issue("$", root, "missing key \"name\"")
        }
        var description: String?
        if let d = top["description"] {
            if let s = d.value.string { description = s } else { issue("description", d.value, "expected a string, found \(d.value.typeName)") }
        }
        var seed: UInt64 = 0
        if let s = top["seed"] {
            if case .number(let n) = s.value.value, n >= 0, n <= 9_007_199_254_740_991, n == n.rounded() {
                seed = UInt64(n)
            } else {
                issue("seed", s.value, "expected a whole number from 0 to 2^53-1")
            }
        }
        var inputs: [InputSpec] = []
        if let i = top["inputs"] { inputs = self.inputs(i.value) } else { issue("$", root, "missing key \"inputs\"") }
        var stages: [StageSpec] = []
        if let s = top["stages"] { stages = self.stages(s.value, inputs: inputs) } else { issue("$", root, "missing key \"stages\"") }
        var training: TrainingSpec?
        if let t = top["training"] { training = self.training(t.value, known: Set(inputs.map(\.name) + stages.map(\.id))) }
        augmentationStages(stages, training: training, trainingSection: top["training"] != nil)
        guard issues.isEmpty else { return nil }
        return PipelineSpec(name: name, description: description, seed: seed, inputs: inputs, stages: stages,
                            directory: directory, sha256: sha256, training: training)
    }

    // MARK: stages

    mutating func stages(_ node: JSONNode, inputs: [InputSpec]) -> [StageSpec] {
        guard case .array(let list) = node.value else {
            issue("stages", node, "expected an array of stages, found \(node.typeName)")
            return []
        }
        if list.isEmpty { issue("stages", node, "a pipeline needs at least one stage") }
        var kinds: [String: ValueKind?] = [:]
        for i in inputs { kinds[i.name] = i.kind }
        var result: [StageSpec] = []
        var outputPaths: [String: String] = [:]
        for (n, stageNode) in list.enumerated() {
            let path = "stages[\(n)]"
            guard case .object(let members) = stageNode.value else {
                issue(path, stageNode, "expected a stage object, found \(stageNode.typeName)")
                continue
            }
            let typeName = members.first { $0.key == "type" }?.value.string
            let definition = typeName.flatMap { registry[$0] }
            let allowed = ["id", "type", "when"] + (definition?.parameters.map(\.name) ?? members.map(\.key))
            guard let keys = self.members(stageNode, path: path, allowed: allowed) else { continue }
            // id
            var id = ""
            if let m = keys["id"] {
                if let s = m.value.string, Identifier.isValid(s) {
                    id = s
                    if kinds[s] != nil { issue("\(path).id", m.value, "id \"\(s)\" is already used by \(inputs.contains { $0.name == s } ? "an input" : "an earlier stage")") }
                } else {
                    issue("\(path).id", m.value, Identifier.rule)
                }
            } else {
                issue(path, stageNode, "missing key \"id\"")
            }
            // type
            guard let t = keys["type"] else { issue(path, stageNode, "missing key \"type\""); continue }
            guard let typeName = t.value.string else { issue("\(path).type", t.value, "expected a stage type name"); continue }
            guard let definition else {
                issue("\(path).type", t.value, "unknown stage type \"\(typeName)\"" + DidYouMean.suffix(typeName, among: Array(registry.definitions.keys))
                      + " (`voxelflow stages` lists them)")
                continue
            }
            // parameters
            var values: [String: JSON] = [:]
            var produced: ValueKind? = nil
            for p in definition.parameters {
                let ppath = "\(path).\(p.name)"
                guard let m = keys[p.name] else {
                    if let d = p.defaultValue { values[p.name] = d } else if p.isRequired { issue(path, stageNode, "missing parameter \"\(p.name)\" (\(p.type.summary))") }
                    continue
                }
                if checkValue(m.value, p.type, path: ppath, known: kinds) {
                    // A choice of numbers may be written as a number (connectivity 26): stored as its text.
                    if case .choice = p.type, case .number(let n) = m.value.value, let whole = Int(checkedRounding: n), Double(whole) == n {
                        values[p.name] = .string(String(whole))
                    } else {
                        values[p.name] = m.value.json
                    }
                }
            }
            switch definition.produces {
            case .nothing: produced = nil
            case .kind(let k): produced = k
            case .sameAs(let param):
                if let ref = values[param]?.stringValue, let k = kinds[ref] { produced = k }
            }
            // output paths must not clash within a case
            for p in definition.parameters where p.type == .outputPath {
                if let template = values[p.name]?.stringValue {
                    let resolved = template.replacingOccurrences(of: "{id}", with: id)
                    if let other = outputPaths[resolved] {
                        issue("\(path).\(p.name)", keys[p.name]?.value ?? stageNode, "output path \"\(resolved)\" is also written by stage \"\(other)\"")
                    }
                    outputPaths[resolved] = id
                }
            }
            if !id.isEmpty && kinds[id] == nil { kinds[id] = .some(produced) }
            var spec = StageSpec(id: id, type: typeName, parameters: ParameterValues(values), line: stageNode.line, column: stageNode.column)
            if let w = keys["when"] { spec.condition = condition(w.value, path: "\(path).when", earlier: result) }
            for p in definition.parameters {
                switch p.type {
                case .reference: if let ref = values[p.name]?.stringValue { spec.references.append(ref) }
                case .array(of: .reference, _): if case .array(let refs)? = values[p.name] { spec.references += refs.compactMap(\.stringValue) }
                default: break
                }
            }
            result.append(spec)
            checkedStages.append((n, result[result.count - 1]))
        }
        return result
    }

    /// Reads a stage's `when`: an earlier classify stage and a test on its result.
    mutating func condition(_ node: JSONNode, path: String, earlier: [StageSpec]) -> StageCondition? {
        guard let keys = members(node, path: path, allowed: StageCondition.keys) else { return nil }
        let classifiers = earlier.filter { $0.type == "classify" }
        guard let s = keys["stage"] else { issue(path, node, "missing key \"stage\" (the id of an earlier classify stage)"); return nil }
        guard let stage = s.value.string else { issue("\(path).stage", s.value, "expected the id of an earlier classify stage"); return nil }
        guard let classifier = classifiers.first(where: { $0.id == stage }) else {
            let what = earlier.contains { $0.id == stage } ? "is not a classify stage" : "is not an earlier stage"
            issue("\(path).stage", s.value, "\"\(stage)\" \(what); a condition reads the result of an earlier classify stage"
                  + DidYouMean.suffix(stage, among: classifiers.map(\.id)))
            return nil
        }
        let names = classifier.parameters.strings("classNames")
        func known(_ name: String, _ node: JSONNode, _ p: String) -> Bool {
            guard let names, !names.contains(name) else { return true }
            issue(p, node, "\"\(name)\" is not a class of \"\(stage)\" (\(names.map { "\"\($0)\"" }.joined(separator: ", ")))" + DidYouMean.suffix(name, among: names))
            return false
        }
        switch (keys["predicted"], keys["score"], keys["atLeast"]) {
        case (let p?, nil, nil):
            var classes: [String] = []
            if let one = p.value.string {
                classes = [one]
            } else if case .array(let items) = p.value.value, !items.isEmpty, items.allSatisfy({ $0.string != nil }) {
                classes = items.compactMap(\.string)
            } else {
                issue("\(path).predicted", p.value, "expected a class name or a non-empty array of class names")
                return nil
            }
            let nodes: [JSONNode] = { if case .array(let items) = p.value.value { return items } else { return [p.value] } }()
            guard zip(classes, nodes).allSatisfy({ known($0, $1, "\(path).predicted") }) else { return nil }
            return StageCondition(stage: stage, test: .predicted(classes))
        case (nil, let c?, let t?):
            guard let name = c.value.string else { issue("\(path).score", c.value, "expected a class name"); return nil }
            guard case .number(let threshold) = t.value.value else { issue("\(path).atLeast", t.value, "expected a number"); return nil }
            guard known(name, c.value, "\(path).score") else { return nil }
            return StageCondition(stage: stage, test: .score(class: name, atLeast: threshold))
        default:
            issue(path, node, "give either \"predicted\" (a class or a list of classes) or \"score\" with \"atLeast\"")
            return nil
        }
    }

    /// Checks one value against a parameter type; returns true when it is acceptable.
    mutating func checkValue(_ node: JSONNode, _ type: ParameterType, path: String, known: [String: ValueKind?]) -> Bool {
        let before = issues.count
        switch type {
        case .integer(let range):
            if case .number(let d) = node.value, d == d.rounded(), abs(d) < 9e15 {
                if !range.contains(Int(d)) { issue(path, node, "\(Int(d)) is out of range: expected an \(type.summary)") }
            } else {
                issue(path, node, "expected an integer, found \(node.typeName == "number" ? "a fractional number" : node.typeName)")
            }
        case .number(let range):
            if case .number(let d) = node.value {
                if !range.contains(d) { issue(path, node, "\(JSON.format(d)) is out of range: expected a \(type.summary)") }
            } else {
                issue(path, node, "expected a number, found \(node.typeName)")
            }
        case .boolean:
            if case .bool = node.value {} else { issue(path, node, "expected true or false, found \(node.typeName)") }
        case .string:
            if node.string == nil { issue(path, node, "expected a string, found \(node.typeName)") }
        case .choice(let options):
            if let s = node.string {
                if !options.contains(s) { issue(path, node, "\"\(s)\" is not \(type.summary)" + DidYouMean.suffix(s, among: options)) }
            } else if case .number(let n) = node.value, options.allSatisfy({ Double($0) != nil }) {
                if !options.contains(where: { Double($0) == n }) { issue(path, node, "\(n) is not \(type.summary)") }
            } else {
                issue(path, node, "expected \(type.summary), found \(node.typeName)")
            }
        case .array(let element, let count):
            if case .array(let items) = node.value {
                if !count.contains(items.count) {
                    issue(path, node, "expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound == Int.max ? "any number of" : "\(count.upperBound)")") items, found \(items.count)")
                }
                for (n, item) in items.enumerated() { _ = checkValue(item, element, path: "\(path)[\(n)]", known: known) }
            } else {
                issue(path, node, "expected an array, found \(node.typeName)")
            }
        case .reference(let kinds):
            guard let s = node.string else { issue(path, node, "expected the id of an input or an earlier stage, found \(node.typeName)"); break }
            guard let entry = known[s] else {
                issue(path, node, "no input or earlier stage has id \"\(s)\"" + DidYouMean.suffix(s, among: Array(known.keys)))
                break
            }
            guard let kind = entry else { issue(path, node, "stage \"\(s)\" produces no value to use"); break }
            if !kinds.contains(kind) {
                issue(path, node, "\"\(s)\" gives \(kind.rawValue), but this parameter needs " + kinds.map(\.rawValue).joined(separator: " or "))
            }
        case .outputPath:
            guard let s = node.string else { issue(path, node, "expected a relative path string, found \(node.typeName)"); break }
            if let problem = OutputPath.problem(s) { issue(path, node, problem) }
        case .existingFile:
            guard let s = node.string else { issue(path, node, "expected a file path, found \(node.typeName)"); break }
            let full = s.hasPrefix("/") ? s : "\(directory)/\(s)"
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) || isDirectory.boolValue {
                issue(path, node, "file not found: \(full)")
            }
        case .object:
            if case .object = node.value {} else { issue(path, node, "expected an object, found \(node.typeName)") }
        case .labelTable:
            // A file, read now so that its own line and column are reported; or the table inline.
            do {
                if let s = node.string {
                    _ = try LabelTable.read(s.hasPrefix("/") ? s : "\(directory)/\(s)")
                } else if case .object = node.value {
                    _ = try LabelTable.parse(node, path: "inline label table")
                } else {
                    issue(path, node, "expected a label table file or {\"labels\": [...]}, found \(node.typeName)")
                }
            } catch let e as LabelTableError {
                if node.string != nil { issue(path, node, "\(e)") } else { issues.append(PipelineIssue(path: path, line: e.line, column: e.column, message: e.message)) }
            } catch {
                issue(path, node, "\(error)")
            }
        case .labelMapping:
            guard case .object(let members) = node.value else { issue(path, node, "expected an object such as {\"2\": 1}, found \(node.typeName)"); break }
            for m in members {
                if Int(m.key) == nil { issue("\(path).\(m.key)", m, "keys must be label numbers, found \"\(m.key)\"") }
                if case .number(let d) = m.value.value, d == d.rounded(), d >= 0, d <= 2_147_483_647 {} else {
                    issue("\(path).\(m.key)", m.value, "expected a label number ≥ 0")
                }
            }
        }
        return issues.count == before
    }
}

/// Rules for input names and stage ids.
enum Identifier {
    static let rule = "ids start with a letter and use only letters, digits, '_' and '-' (at most 64 characters)"

    static func isValid(_ s: String) -> Bool {
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 64, letter(first) else { return false }
        return s.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }
}

/// Rules for output path templates.
public enum OutputPath {
    /// Why `template` is not an acceptable output path, or nil when it is.
    public static func problem(_ template: String) -> String? {
        if template.isEmpty { return "the path is empty" }
        if template.hasPrefix("/") { return "output paths are relative to the case's folder; \"\(template)\" is absolute" }
        let parts = template.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) { return "output paths may not contain '..', '.' or empty components" }
        if parts.contains(where: { $0.hasPrefix(".") }) { return "output file and folder names may not start with '.'" }
        var rest = template
        for placeholder in ["{case}", "{id}"] { rest = rest.replacingOccurrences(of: placeholder, with: "") }
        if rest.contains("{") || rest.contains("}") { return "unknown placeholder; only {case} and {id} are allowed" }
        return nil
    }
}
