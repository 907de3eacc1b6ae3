/// Turns any `Encodable` value into a `JSON` value, so that every JSON VoxelFlow prints or writes goes
/// through one writer (`JSON.serialized`): the same number formatting, escaping and `null` for NaN and
/// infinities everywhere. Object keys are sorted, so output does not depend on declaration order; `nil`
/// optionals are left out, as Swift's synthesized encoding does.
public enum JSONValueEncoder {
    /// The JSON value of `value`.
    /// - Throws: whatever `value.encode(to:)` throws.
    public static func encode<T: Encodable>(_ value: T) throws -> JSON {
        let root = Node()
        try value.encode(to: ValueEncoder(node: root, codingPath: []))
        return root.json
    }

    /// A mutable tree built while encoding.
    final class Node {
        enum Content {
            case empty
            case value(JSON)
            case object([String: Node])
            case array([Node])
        }
        var content: Content = .empty

        var json: JSON {
            switch content {
            case .empty: return .object([])
            case .value(let v): return v
            case .object(let members): return .object(members.keys.sorted().compactMap { k in members[k].map { (k, $0.json) } })
            case .array(let items): return .array(items.map(\.json))
            }
        }

        func child(_ key: String) -> Node {
            var members: [String: Node] = [:]
            if case .object(let m) = content { members = m }
            let node = members[key] ?? Node()
            members[key] = node
            content = .object(members)
            return node
        }

        func append() -> Node {
            var items: [Node] = []
            if case .array(let a) = content { items = a }
            let node = Node()
            items.append(node)
            content = .array(items)
            return node
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
    }

    struct ValueEncoder: Encoder {
        let node: Node
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.content {} else { node.content = .object([:]) }
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.content {} else { node.content = .array([]) }
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    static func scalar<T: Encodable>(_ value: T, into node: Node, path: [any CodingKey]) throws {
        switch value {
        case let v as Bool: node.content = .value(.bool(v))
        case let v as String: node.content = .value(.string(v))
        case let v as Double: node.content = .value(.number(v))
        case let v as Float: node.content = .value(.number(Double(v)))
        case let v as Int: node.content = .value(.int(v))
        case let v as Int8: node.content = .value(.int(Int(v)))
        case let v as Int16: node.content = .value(.int(Int(v)))
        case let v as Int32: node.content = .value(.int(Int(v)))
        case let v as Int64: node.content = .value(.int(Int(v)))
        case let v as UInt8: node.content = .value(.int(Int(v)))
        case let v as UInt16: node.content = .value(.int(Int(v)))
        case let v as UInt32: node.content = .value(.int(Int(v)))
        case let v as UInt64: node.content = v <= UInt64(Int.max) ? .value(.int(Int(v))) : .value(.number(Double(v)))
        case let v as UInt: node.content = v <= UInt(Int.max) ? .value(.int(Int(v))) : .value(.number(Double(v)))
        default: try value.encode(to: ValueEncoder(node: node, codingPath: path))
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { node.child(key.stringValue).content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try JSONValueEncoder.scalar(value, into: node.child(key.stringValue), path: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            ValueEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            ValueEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.child("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { ValueEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey]
        var count: Int {
            if case .array(let items) = node.content { return items.count }
            return 0
        }

        mutating func encodeNil() throws { node.append().content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let key = AnyKey(intValue: count)
            try JSONValueEncoder.scalar(value, into: node.append(), path: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            ValueEncoder(node: node.append(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            ValueEncoder(node: node.append(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.append(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws { try JSONValueEncoder.scalar(value, into: node, path: codingPath) }
    }
}
