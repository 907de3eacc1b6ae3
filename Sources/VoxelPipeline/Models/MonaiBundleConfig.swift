import Foundation
import VoxelSupport

/// A problem that stops a MONAI bundle from being imported: the file, the JSON path inside it and what is wrong.
public struct BundleImportError: Error, CustomStringConvertible, Sendable {
    /// The bundle file (configs/inference.json, configs/metadata.json, models/model.pt, …).
    public var file: String
    /// Where in the file, as `preprocessing.transforms[3].pixdim` (`$` for the file itself).
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String { "\(file): \(path): \(message)" }
}

/// A MONAI bundle configuration read as data. References are resolved without evaluating anything: `@id`
/// (another entry of the same file; `#` or `::` separate nested keys and list indices) and `%file#id` (an entry
/// of another file of the bundle). A `$` expression is Python for MONAI's own runtime: it is refused
/// wherever VoxelFlow would have to use its value, naming its JSON path.
struct MonaiBundleConfig {
    let file: String
    let root: JSON
    let bundleDirectory: String

    /// Reads `file` (JSON; YAML configurations are refused with the reason).
    init(file: String, bundleDirectory: String) throws {
        self.file = file
        self.bundleDirectory = bundleDirectory
        guard !file.hasSuffix(".yaml"), !file.hasSuffix(".yml") else {
            throw BundleImportError(file: file, path: "$", message: "YAML bundle configurations are not read; convert it to JSON (same content) first")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BundleImportError(file: file, path: "$", message: FileManager.default.fileExists(atPath: file) ? "cannot read the file" : "no such file")
        }
        do {
            root = try JSONParser.parse(bytes: [UInt8](data)).json
        } catch let e as JSONSyntaxError {
            throw BundleImportError(file: file, path: "$", message: "JSON syntax at line \(e.line), column \(e.column): \(e.message)")
        }
        guard case .object = root else { throw BundleImportError(file: file, path: "$", message: "expected a JSON object") }
    }

    func fail(_ path: String, _ message: String) -> BundleImportError { BundleImportError(file: file, path: path, message: message) }

    /// The entry `id` (`a#b#0`), unresolved, or nil.
    func entry(_ id: String) -> JSON? {
        let parts = id.replacingOccurrences(of: "::", with: "#").split(separator: "#", omittingEmptySubsequences: false).map(String.init)
        var node: JSON? = root
        for part in parts {
            switch node {
            case .object(let members)?: node = members.first { $0.0 == part }?.1
            case .array(let items)?:
                guard let i = Int(part), items.indices.contains(i) else { return nil }
                node = items[i]
            default: return nil
            }
        }
        return node
    }

    /// `value` with every `@` and `%` reference replaced by what it names, recursively.
    /// - Throws: `BundleImportError` at `path` for a `$` expression, a dangling or circular reference.
    func resolve(_ value: JSON, path: String, depth: Int = 0) throws -> JSON {
        guard depth < 32 else { throw fail(path, "references nest more than 32 deep (a cycle?)") }
        switch value {
        case .string(let s) where s.hasPrefix("$"):
            throw fail(path, "\"\(s.prefix(80))\" is a Python expression for MONAI's runtime; VoxelFlow never evaluates code and needs a literal value here")
        case .string(let s) where s.hasPrefix("@"):
            let id = String(s.dropFirst())
            guard let target = entry(id) else { throw fail(path, "\"\(s)\" names no entry of \((file as NSString).lastPathComponent)") }
            return try resolve(target, path: path, depth: depth + 1)
        case .string(let s) where s.hasPrefix("%"):
            let reference = String(s.dropFirst())
            let parts = reference.split(separator: "#", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw fail(path, "\"\(s)\" is not a file#id macro") }
            let other = parts[0].isEmpty ? self : try MonaiBundleConfig(file: "\(bundleDirectory)/\(parts[0])", bundleDirectory: bundleDirectory)
            guard let target = other.entry(parts[1]) else { throw fail(path, "\"\(s)\": no entry \"\(parts[1])\" in \(parts[0])") }
            return try other.resolve(target, path: path, depth: depth + 1)
        case .array(let items):
            return .array(try items.enumerated().map { try resolve($1, path: "\(path)[\($0)]", depth: depth) })
        case .object(let members):
            return .object(try members.map { ($0.0, try resolve($0.1, path: "\(path).\($0.0)", depth: depth)) })
        default:
            return value
        }
    }

    /// `value` with references followed only while it is itself a reference (`@id`, `%file#id`): the
    /// containers inside are left as they are, to be resolved when (and if) they are read.
    func shallow(_ value: JSON, path: String) throws -> JSON {
        var v = value
        for _ in 0..<32 {
            guard case .string(let s) = v, s.hasPrefix("@") || s.hasPrefix("%") || s.hasPrefix("$") else { return v }
            if s.hasPrefix("$") { return try resolve(v, path: path) }
            if s.hasPrefix("@") {
                guard let target = entry(String(s.dropFirst())) else { throw fail(path, "\"\(s)\" names no entry of \((file as NSString).lastPathComponent)") }
                v = target
            } else {
                return try resolve(v, path: path)
            }
        }
        throw fail(path, "references nest more than 32 deep (a cycle?)")
    }

    /// A MONAI component: `_target_` without its module path, and its arguments (unresolved).
    static func component(_ value: JSON) -> (target: String, arguments: [(String, JSON)])? {
        guard case .object(let members) = value, let target = members.first(where: { $0.0 == "_target_" })?.1.stringValue else { return nil }
        let name = target.split(separator: ".").last.map(String.init) ?? target
        return (name, members.filter { !["_target_", "_requires_", "_desc_", "_mode_", "_disabled_"].contains($0.0) })
    }

    /// True when a component is switched off with `"_disabled_": true`.
    static func isDisabled(_ value: JSON) -> Bool {
        if case .bool(true)? = value["_disabled_"] { return true }
        if case .string(let s)? = value["_disabled_"] { return s.lowercased() == "true" }
        return false
    }
}
