import Foundation
import VoxelCore
import VoxelSupport

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
/// shape and byte range, then the raw little-endian data. Everything is checked before use: header length
/// within the file and valid UTF-8 JSON, offsets matching shape × dtype size and tiling the data section
/// exactly (in order, no gap, no overlap), so a
/// truncated or hostile file gives `NNError.invalidWeightsFile`, never a crash. F32, F16, BF16 and F64
/// tensors are read (converted to float32).
public struct Safetensors: Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable {
        public var dtype: String
        public var shape: [Int]
        public var range: Range<Int>
    }

    public let path: String
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let bytes: [UInt8]
    private let dataStart: Int
    /// Set only on the store `parameterShapes(of:)` lends to a network: it answers every request with zeros
    /// of the asked shape and records the name and shape.
    private var probe: ShapeProbe? = nil

    /// Records the tensors a network asks for while loading.
    private final class ShapeProbe: @unchecked Sendable {
        var requests: [(String, [Int])] = []
    }

    /// The name and shape of every parameter `network` loads, in its loading order (its state_dict order).
    /// - Throws: `NNError.invalidInput` when the network asks for a tensor without saying its shape.
    public static func parameterShapes(of network: any Network) throws -> [(String, [Int])] {
        var store = try Safetensors(tensors: [], path: "parameter shapes")
        let probe = ShapeProbe()
        store.probe = probe
        var net = network
        try net.load(from: store)
        return probe.requests
    }

    /// Reads and checks a file.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NNError.invalidWeightsFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file")
        }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// Parses file contents (`path` names it in errors).
    public init(bytes: [UInt8], path: String) throws {
        func fail(_ why: String) -> NNError { .invalidWeightsFile(path: path, reason: why) }
        guard bytes.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        var headerLength = 0
        for b in 0..<8 { headerLength |= Int(bytes[b]) << (8 * b) }
        guard headerLength >= 2, headerLength <= bytes.count - 8, headerLength <= 100_000_000 else {
            throw fail("header length \(headerLength) does not fit the file's \(bytes.count) bytes (truncated?)")
        }
        let header: JSONNode
        do {
            header = try JSONParser.parse(bytes: Array(bytes[8..<(8 + headerLength)]))
        } catch {
            throw fail("header is not valid JSON: \(error)")
        }
        guard case .object(let members) = header.value else { throw fail("header is not a JSON object") }
        let dataLength = bytes.count - 8 - headerLength
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for m in members {
            if m.key == "__metadata__" {
                if case .object(let items) = m.value.value { for i in items { metadata[i.key] = i.value.string } }
                continue
            }
            guard let dtype = m.value.member("dtype")?.value.string,
                  case .array(let shapeNodes)? = m.value.member("shape")?.value.value,
                  case .array(let offsetNodes)? = m.value.member("data_offsets")?.value.value, offsetNodes.count == 2 else {
                throw fail("entry \(m.key) lacks dtype, shape or data_offsets")
            }
            let shape = shapeNodes.compactMap { node -> Int? in
                if case .number(let d) = node.value, d >= 0, d == d.rounded(), d < 1e12 { return Int(d) }
                return nil
            }
            let offsets = offsetNodes.compactMap { node -> Int? in
                if case .number(let d) = node.value, d >= 0, d == d.rounded(), d < 1e15 { return Int(d) }
                return nil
            }
            guard shape.count == shapeNodes.count, offsets.count == 2, offsets[0] <= offsets[1] else { throw fail("entry \(m.key) has a bad shape or offsets") }
            guard let size = Self.elementSize(dtype) else { throw fail("entry \(m.key) has unsupported dtype \(dtype)") }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in let r = acc.0.multipliedReportingOverflow(by: d); return (r.partialValue, acc.1 || r.overflow) }
            guard !overflow, count * size == offsets[1] - offsets[0] else {
                throw fail("entry \(m.key): shape \(shape) of \(dtype) needs \(count * size) bytes, offsets give \(offsets[1] - offsets[0])")
            }
            guard offsets[1] <= dataLength else { throw fail("entry \(m.key) ends at byte \(offsets[1]) of \(dataLength) data bytes (truncated?)") }
            entries[m.key] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        // The tensors must tile the data section exactly: in offset order, each starting where the previous
        // one ended, the first at 0 and the last at the end (the format's rule; overlapping or aliased
        // tensors and unexplained bytes mean a damaged or hostile file).
        var expectedStart = 0
        for (name, e) in entries.sorted(by: { ($0.value.range.lowerBound, $0.value.range.upperBound, $0.key) < ($1.value.range.lowerBound, $1.value.range.upperBound, $1.key) }) {
            guard e.range.lowerBound == expectedStart else {
                throw fail(e.range.lowerBound < expectedStart
                    ? "entry \(name) (bytes \(e.range.lowerBound)..<\(e.range.upperBound)) overlaps the tensor before it, which ends at byte \(expectedStart)"
                    : "bytes \(expectedStart)..<\(e.range.lowerBound) of the data belong to no tensor (before entry \(name))")
            }
            expectedStart = e.range.upperBound
        }
        guard expectedStart == dataLength else {
            throw fail("the tensors end at byte \(expectedStart) of \(dataLength) data bytes; the rest belongs to no tensor")
        }
        self.path = path
        self.entries = entries
        self.metadata = metadata
        self.bytes = bytes
        dataStart = 8 + headerLength
    }

    /// A weights store built in memory from named float32 tensors (checkpoints of other formats are
    /// converted to this form). Names must be distinct.
    /// - Throws: `NNError.invalidWeightsFile` naming a repeated tensor name.
    public init(tensors: [(String, Tensor)], path: String, metadata: [String: String] = [:]) throws {
        var entries: [String: Entry] = [:]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tensors.reduce(0) { $0 + 4 * $1.1.count })
        for (name, t) in tensors {
            guard entries[name] == nil else { throw NNError.invalidWeightsFile(path: path, reason: "tensor \(name) appears twice") }
            let start = bytes.count
            t.data.withUnsafeBytes { bytes.append(contentsOf: $0) }
            entries[name] = Entry(dtype: "F32", shape: t.shape, range: start..<bytes.count)
        }
        self.path = path
        self.entries = entries
        self.metadata = metadata
        self.bytes = bytes
        dataStart = 0
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        case "F64": return 8
        default: return nil
        }
    }

    /// The tensor `name` as float32.
    /// - Throws: `NNError.missingWeight` when absent; `shapeMismatch` when `shape` is given and differs.
    public func tensor(_ name: String, shape expected: [Int]? = nil) throws -> Tensor {
        if let probe {
            guard let expected else { throw NNError.invalidInput("\(name) is loaded without an expected shape") }
            probe.requests.append((name, expected))
            return Tensor(zeros: expected)
        }
        guard let e = entries[name] else { throw NNError.missingWeight(name) }
        if let expected, expected != e.shape { throw NNError.shapeMismatch(name: name, expected: expected, found: e.shape) }
        let start = dataStart + e.range.lowerBound
        let count = e.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            if e.dtype == "F32", UInt32(littleEndian: 1) == 1 {
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)])) }
                return
            }
            for i in 0..<count {
                switch e.dtype {
                case "F32": values[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self).littleEndian)
                case "F64": values[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self).littleEndian))
                case "F16": values[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self).littleEndian))
                default: values[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self).littleEndian) << 16)
                }
            }
        }
        return try Tensor(shape: e.shape, data: values)
    }
}

extension Safetensors {
    /// The bytes of a safetensors file holding `tensors` as float32 in the given order, with `metadata`
    /// under `__metadata__`: an 8-byte little-endian header length, the JSON header (padded with spaces to a
    /// multiple of 8), then the data. Readable by the `safetensors` Python package and by `init(bytes:path:)`.
    public static func serialize(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [(String, JSON)] = []
        if !metadata.isEmpty {
            header.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0] ?? "")) })))
        }
        var offset = 0
        for (name, t) in tensors {
            let size = 4 * t.count
            header.append((name, .object([("dtype", .string("F32")), ("shape", .array(t.shape.map { .int($0) })),
                                          ("data_offsets", .array([.int(offset), .int(offset + size)]))])))
            offset += size
        }
        var text = Array(JSON.object(header).serialized(pretty: false).utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + text.count + offset)
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: text)
        for (_, t) in tensors {
            t.data.withUnsafeBytes { raw in
                if UInt32(littleEndian: 1) == 1 {
                    bytes.append(contentsOf: raw)
                } else {
                    for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                }
            }
        }
        return bytes
    }
}
