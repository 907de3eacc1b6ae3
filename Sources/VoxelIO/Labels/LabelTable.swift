import Foundation
import VoxelSupport

/// A coded concept (DICOM "code sequence" item): coding scheme, code value and meaning, e.g.
/// `SCT 10200004 "Liver"`.
public struct CodedConcept: Sendable, Equatable, Hashable {
    /// Coding scheme designator ("SCT" for SNOMED CT, "DCM" for DICOM's own codes).
    public var scheme: String
    /// The code value in that scheme.
    public var value: String
    /// The code meaning (human-readable).
    public var meaning: String

    /// A coded concept.
    public init(scheme: String, value: String, meaning: String) {
        self.scheme = scheme
        self.value = value
        self.meaning = meaning
    }

    /// SNOMED CT "Tissue" (85756007): the default category and type when a label table gives none.
    public static let tissue = CodedConcept(scheme: "SCT", value: "85756007", meaning: "Tissue")
    /// SNOMED CT "Anatomical Structure" (91723000), the category of organs (PS3.16 CID 7150).
    public static let anatomicalStructure = CodedConcept(scheme: "SCT", value: "91723000", meaning: "Anatomical Structure")
}

/// One label of a label map: its value, name, display colour and codes (what DICOM SEG and RTSTRUCT writers
/// need so that a viewer shows "Liver" in the right colour with the right SNOMED CT code).
public struct LabelInfo: Sendable, Equatable {
    /// The voxel value (1…65535; 0 is background).
    public var value: Int
    /// The name shown to users ("Liver").
    public var name: String
    /// Display colour, sRGB 0…255.
    public var color: [Int]
    /// Segmented property category (default: SCT 85756007 Tissue).
    public var category: CodedConcept
    /// Segmented property type (default: SCT 85756007 Tissue).
    public var type: CodedConcept
    /// Anatomic region, when the type needs one (e.g. a lesion in the liver).
    public var region: CodedConcept?
    /// Modifier of the type or region (e.g. SCT 24028007 Right).
    public var modifier: CodedConcept?

    /// A label with default colour and codes.
    public init(value: Int, name: String, color: [Int]? = nil, category: CodedConcept = .tissue, type: CodedConcept = .tissue,
                region: CodedConcept? = nil, modifier: CodedConcept? = nil) {
        self.value = value
        self.name = name
        self.color = color ?? LabelInfo.defaultColor(value)
        self.category = category
        self.type = type
        self.region = region
        self.modifier = modifier
    }

    /// A distinct colour for a label value (a fixed palette, repeated).
    public static func defaultColor(_ value: Int) -> [Int] {
        let palette: [[Int]] = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                                [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
                                [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
                                [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128]]
        return palette[(max(1, value) - 1) % palette.count]
    }

    /// The colour as DICOM's RecommendedDisplayCIELabValue: CIE L*a*b* (D65) scaled to 0…65535 (PS3.3
    /// C.10.7.1.1: L* 0…100 and a*, b* −128…127 mapped linearly).
    public var cieLab: [Int] {
        func linear(_ c: Int) -> Double {
            let v = Double(min(255, max(0, c))) / 255
            return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
        }
        let r = linear(color[0]), g = linear(color[1]), b = linear(color[2])
        let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
        let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
        let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883
        func f(_ t: Double) -> Double { t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116 }
        let l = 116 * f(y) - 16, a = 500 * (f(x) - f(y)), bb = 200 * (f(y) - f(z))
        func scale(_ v: Double, _ lo: Double, _ hi: Double) -> Int { Int(((min(hi, max(lo, v)) - lo) / (hi - lo) * 65535).rounded()) }
        return [scale(l, 0, 100), scale(a, -128, 127), scale(bb, -128, 127)]
    }
}

/// Names, colours and codes of the labels of a label map, read from a JSON file:
///
/// ```json
/// {"labels": [{"value": 1, "name": "Liver", "color": [221, 130, 101],
///              "category": {"scheme": "SCT", "value": "91723000", "meaning": "Anatomical Structure"},
///              "type": {"scheme": "SCT", "value": "10200004", "meaning": "Liver"}}]}
/// ```
///
/// `value` and `name` are required; `color`, `category`, `type`, `region` and `modifier` are optional
/// (defaults: a palette colour, SCT 85756007 Tissue). Values are unique, 1…65535.
public struct LabelTable: Sendable, Equatable {
    /// The labels, by increasing value.
    public var labels: [LabelInfo]

    /// A table of `labels` (sorted by value).
    public init(_ labels: [LabelInfo]) { self.labels = labels.sorted { $0.value < $1.value } }

    /// The entry for `value`, or nil.
    public subscript(value: Int) -> LabelInfo? { labels.first { $0.value == value } }

    /// A table naming `values` "Label N" with default colours and codes (for label maps without a table).
    public static func generic(_ values: [Int]) -> LabelTable {
        LabelTable(values.filter { $0 > 0 }.map { LabelInfo(value: $0, name: "Label \($0)") })
    }

    /// Reads a table file.
    /// - Throws: `LabelTableError` naming the file, the line and column, and the problem.
    public static func read(_ path: String) throws -> LabelTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabelTableError(path: path, line: 0, column: 0, message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        return try parse(bytes: [UInt8](data), path: path)
    }

    /// Parses a table from JSON bytes (`path` names it in errors).
    public static func parse(bytes: [UInt8], path: String) throws -> LabelTable {
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes: bytes)
        } catch let e as JSONSyntaxError {
            throw LabelTableError(path: path, line: e.line, column: e.column, message: "JSON syntax: \(e.message)")
        }
        return try parse(root, path: path)
    }

    /// Reads a table from a parsed JSON node (`{"labels": [...]}`, as in a file or inline in a pipeline).
    public static func parse(_ root: JSONNode, path: String) throws -> LabelTable {
        func fail(_ node: JSONNode, _ message: String) -> LabelTableError {
            LabelTableError(path: path, line: node.line, column: node.column, message: message)
        }
        guard case .array(let items)? = root.member("labels")?.value.value else {
            throw fail(root, "expected an object with \"labels\": an array of {\"value\", \"name\", …}")
        }
        var seen = Set<Int>()
        var labels: [LabelInfo] = []
        for item in items {
            guard case .object(let members) = item.value else { throw fail(item, "each label is an object") }
            for m in members where !["value", "name", "color", "category", "type", "region", "modifier"].contains(m.key) {
                throw fail(m.value, "unknown key \"\(m.key)\" (value, name, color, category, type, region, modifier)")
            }
            guard let v = item.member("value")?.value, case .number(let d) = v.value, let value = Int(checkedRounding: d),
                  Double(value) == d, (1...65535).contains(value) else {
                throw fail(item.member("value")?.value ?? item, "\"value\" must be a whole number from 1 to 65535")
            }
            guard seen.insert(value).inserted else { throw fail(v, "label \(value) is listed twice") }
            guard let name = item.member("name")?.value.string, !name.isEmpty else {
                throw fail(item.member("name")?.value ?? item, "\"name\" must be a non-empty string")
            }
            var info = LabelInfo(value: value, name: name)
            if let c = item.member("color")?.value {
                guard case .array(let parts) = c.value, parts.count == 3,
                      let rgb = Optional(parts.compactMap { p -> Int? in
                          if case .number(let x) = p.value, x == x.rounded(), (0...255).contains(x) { return Int(x) }
                          return nil
                      }), rgb.count == 3 else {
                    throw fail(c, "\"color\" must be [red, green, blue] with whole numbers from 0 to 255")
                }
                info.color = rgb
            }
            func code(_ key: String) throws -> CodedConcept? {
                guard let node = item.member(key)?.value else { return nil }
                guard let scheme = node.member("scheme")?.value.string, !scheme.isEmpty,
                      let value = node.member("value")?.value.string, !value.isEmpty,
                      let meaning = node.member("meaning")?.value.string, !meaning.isEmpty else {
                    throw fail(node, "\"\(key)\" must be {\"scheme\", \"value\", \"meaning\"} with non-empty strings (e.g. SCT, 10200004, Liver)")
                }
                return CodedConcept(scheme: scheme, value: value, meaning: meaning)
            }
            if let c = try code("category") { info.category = c }
            if let t = try code("type") { info.type = t }
            info.region = try code("region")
            info.modifier = try code("modifier")
            labels.append(info)
        }
        return LabelTable(labels)
    }
}

/// A label table that cannot be used, with its position.
public struct LabelTableError: Error, CustomStringConvertible, Sendable {
    /// The table file (or the pipeline holding it).
    public var path: String
    /// 1-based line and column, 0 when not known.
    public var line: Int
    public var column: Int
    /// What is wrong.
    public var message: String
    public var description: String { line > 0 ? "\(path):\(line):\(column): \(message)" : "\(path): \(message)" }
}
