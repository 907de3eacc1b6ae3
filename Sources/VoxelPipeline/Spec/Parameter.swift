import VoxelCore
import VoxelSupport
/// What a pipeline input or stage result holds.
public enum ValueKind: String, Sendable, CaseIterable, Codable {
    /// An intensity volume (`Volume`): CT in HU, PET in SUV, MR in scanner units, or a normalised tensor.
    case image
    /// A segmentation (`LabelMap`): integer labels, 0 = background.
    case labels
    /// A JSON section of the case report (measurements, scores).
    case report
}

/// The type of a stage parameter, which decides how its JSON value is checked.
public indirect enum ParameterType: Sendable, Equatable {
    /// A JSON number with no fractional part, within the range.
    case integer(ClosedRange<Int>)
    /// A JSON number within the range.
    case number(ClosedRange<Double>)
    /// `true` or `false`.
    case boolean
    /// Any string.
    case string
    /// One of the listed strings.
    case choice([String])
    /// An array of `element` values with a count in `count`.
    case array(of: ParameterType, count: ClosedRange<Int>)
    /// The `id` of a pipeline input or an earlier stage whose result is one of these kinds.
    case reference([ValueKind])
    /// A relative output path inside the case's folder; may use `{case}` and `{id}`; must not contain `..`.
    case outputPath
    /// A file that must exist; relative paths are resolved against the pipeline file's folder.
    case existingFile
    /// Any JSON object, passed through unchanged (for example parameters handed to an external program).
    case object
    /// An object mapping label numbers (as strings: `"1"`) to integers.
    case labelMapping
    /// A label table: the path of a JSON file (relative to the pipeline file) or the table itself inline,
    /// `{"labels": [{"value": 1, "name": "Liver", …}]}`.
    case labelTable

    /// A short description used by `voxelflow stages` and the docs.
    public var summary: String {
        switch self {
        case .integer(let r): return "integer \(ParameterType.rangeText(r.lowerBound, r.upperBound, Int.min, Int.max))"
        case .number(let r): return "number \(ParameterType.rangeText(r.lowerBound, r.upperBound, -Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude))"
        case .boolean: return "boolean"
        case .string: return "string"
        case .choice(let options): return "one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
        case .array(let element, let count):
            let n = count.lowerBound == count.upperBound ? "\(count.lowerBound) × " : (count.upperBound == Int.max ? "\(count.lowerBound)+ × " : "\(count.lowerBound)–\(count.upperBound) × ")
            return "array of \(n)\(element.summary)"
        case .reference(let kinds): return "id of an input or earlier stage giving " + kinds.map(\.rawValue).joined(separator: " or ")
        case .outputPath: return "relative output path ({case}, {id} allowed)"
        case .existingFile: return "path of an existing file (relative to the pipeline file)"
        case .object: return "JSON object"
        case .labelMapping: return "object of label → label (e.g. {\"2\": 1})"
        case .labelTable: return "label table: a JSON file (relative to the pipeline file) or {\"labels\": [...]} inline"
        }
    }

    static func rangeText<T: Comparable>(_ lo: T, _ hi: T, _ min: T, _ max: T) -> String {
        switch (lo == min, hi == max) {
        case (true, true): return ""
        case (false, true): return "≥ \(lo)"
        case (true, false): return "≤ \(hi)"
        case (false, false): return "in \(lo)…\(hi)"
        }
    }
}

/// The declaration of one stage parameter: its name, type, default and documentation.
public struct ParameterSpec: Sendable {
    /// The JSON key (camelCase).
    public var name: String
    public var type: ParameterType
    /// The value used when the key is absent; nil makes the parameter required unless `optional`.
    public var defaultValue: JSON?
    /// True when the parameter may be absent without a default (the stage then behaves as documented).
    public var optional: Bool
    /// One line of documentation, with units.
    public var doc: String

    /// Declares a parameter. With neither `default` nor `optional`, the parameter is required.
    public init(_ name: String, _ type: ParameterType, default defaultValue: JSON? = nil, optional: Bool = false, doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.optional = optional
        self.doc = doc
    }

    /// True when a pipeline must give this parameter.
    public var isRequired: Bool { defaultValue == nil && !optional }
}

/// The checked parameter values of one stage, defaults filled in.
///
/// The accessors trust the validator: a value of the wrong type reads as absent, which cannot happen for
/// parameters that passed validation.
public struct ParameterValues: Sendable {
    /// Values by parameter name (absent optional parameters are missing).
    public var values: [String: JSON]

    public init(_ values: [String: JSON]) { self.values = values }

    /// True when the parameter has a value.
    public func has(_ name: String) -> Bool { values[name] != nil && values[name] != .null }

    public func double(_ name: String) -> Double? { values[name]?.doubleValue }

    public func int(_ name: String) -> Int? { values[name]?.doubleValue.flatMap { Int(checkedRounding: $0) } }

    public func bool(_ name: String) -> Bool? {
        if case .bool(let b)? = values[name] { return b }
        return nil
    }

    public func string(_ name: String) -> String? { values[name]?.stringValue }

    public func doubles(_ name: String) -> [Double]? {
        guard case .array(let items)? = values[name] else { return nil }
        return items.compactMap(\.doubleValue)
    }

    public func ints(_ name: String) -> [Int]? { doubles(name)?.compactMap { Int(checkedRounding: $0) } }

    public func strings(_ name: String) -> [String]? {
        guard case .array(let items)? = values[name] else { return nil }
        return items.compactMap(\.stringValue)
    }

    /// A `labelMapping` parameter as a dictionary.
    public func labelMapping(_ name: String) -> [Int: Int]? {
        guard case .object(let members)? = values[name] else { return nil }
        var mapping: [Int: Int] = [:]
        for (k, v) in members { if let key = Int(k), let value = v.doubleValue { mapping[key] = Int(value) } }
        return mapping
    }
}
