/// A parsed JSON value with the line and column (1-based) where it starts in its source text, so that
/// every validation error can point at the exact place in a pipeline file.
public struct JSONNode: Sendable {
    /// The kinds of value, holding child nodes (with their own positions).
    public enum Value: Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([JSONNode])
        /// Members in file order; `keyLine`/`keyColumn` locate the key itself.
        case object([Member])
    }

    /// One `"key": value` pair of an object.
    public struct Member: Sendable {
        public var key: String
        public var keyLine: Int
        public var keyColumn: Int
        public var value: JSONNode
    }

    public var value: Value
    public var line: Int
    public var column: Int

    /// The JSON type name used in error messages ("string", "number", "object", …).
    public var typeName: String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The value without positions.
    public var json: JSON {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { return .int(Int(d)) }
            return .number(d)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(\.json))
        case .object(let members): return .object(members.map { ($0.key, $0.value.json) })
        }
    }

    /// The member `key` of an object node.
    public func member(_ key: String) -> Member? {
        if case .object(let members) = value { return members.first { $0.key == key } }
        return nil
    }

    /// The string value, if this is a string.
    public var string: String? {
        if case .string(let s) = value { return s }
        return nil
    }
}
