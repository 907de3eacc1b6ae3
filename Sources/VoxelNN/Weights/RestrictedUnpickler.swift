import Foundation

/// Reads the pickle of a PyTorch checkpoint (`data.pkl`) without executing anything: the opcodes of
/// protocols 2–5 that build plain data are interpreted, and a global is accepted only when it is one of the
/// few inert constructors a state-dict checkpoint needs — `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, the `torch.*Storage` types, `torch.device`,
/// numpy scalars and dtypes, and `_codecs.encode` for latin-1 byte strings. Any other global (`posix.system`,
/// `builtins.eval`, a model class) is refused by name before it could be called: this is what PyTorch's
/// `weights_only=True` promises. Storages are not read here; they come back as `TensorReference`s.
///
/// A TorchScript archive's `data.pkl` (`torchScript: true`) pickles its module tree as objects of `__torch__.…`
/// classes. Those names are then accepted as inert records: each is created with no arguments and given its
/// attribute dict by BUILD, and comes back as a `PickleValue.object`; TorchScript's typed-list constructors
/// (`torch.jit._pickle.build_intlist` and its siblings) give back the list they are handed. No class is looked up and no code in the
/// archive (`code/`) is read or run; every other global is refused as before.
struct RestrictedUnpickler {
    /// Builds dicts and lists that later opcodes may still extend (Python objects are shared by reference).
    private final class Box {
        var list: [Object] = []
        var dict: [(Object, Object)] = []
        let isDict: Bool
        /// The `__torch__` class of a TorchScript module record.
        var className: String?
        init(isDict: Bool) { self.isDict = isDict }
    }

    private enum Object {
        case value(PickleValue)
        case list(Box)
        case dict(Box)
        case tuple([Object])
        case mark
    }

    /// Globals that may be named, and what each builds.
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch.device", "_codecs.encode",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype", "builtins.set",
    ]
    static let storageTypes: [String: String] = [
        "torch.FloatStorage": "float32", "torch.HalfStorage": "float16", "torch.BFloat16Storage": "bfloat16",
        "torch.DoubleStorage": "float64", "torch.LongStorage": "int64", "torch.IntStorage": "int32",
        "torch.ShortStorage": "int16", "torch.CharStorage": "int8", "torch.ByteStorage": "uint8", "torch.BoolStorage": "bool",
    ]

    let path: String
    /// Accept TorchScript's `__torch__.…` module records.
    let torchScript: Bool
    private let bytes: [UInt8]
    private var p = 0
    private var stack: [Object] = []
    private var memo: [Int: Object] = [:]
    private var operations = 0

    init(bytes: [UInt8], path: String, torchScript: Bool = false) {
        self.bytes = bytes
        self.path = path
        self.torchScript = torchScript
    }

    private func fail(_ why: String) -> NNError { .invalidWeightsFile(path: path, reason: why) }

    /// Interprets the whole pickle and returns its value.
    /// - Throws: `NNError.invalidWeightsFile` naming a refused global, an unknown opcode, or a damaged stream.
    mutating func load() throws -> PickleValue {
        while true {
            operations += 1
            guard operations < 50_000_000 else { throw fail("pickle has too many operations") }
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try take(8)                                  // FRAME
            case 0x2E:                                                  // STOP
                guard let top = stack.popLast() else { throw fail("pickle stops with an empty stack") }
                return try freeze(top, depth: 0)
            case 0x7D: stack.append(.dict(Box(isDict: true)))           // EMPTY_DICT
            case 0x5D: stack.append(.list(Box(isDict: false)))          // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x28: stack.append(.mark)                              // MARK
            case 0x4E: stack.append(.value(.none))                      // NONE
            case 0x88: stack.append(.value(.bool(true)))                // NEWTRUE
            case 0x89: stack.append(.value(.bool(false)))               // NEWFALSE
            case 0x4B: stack.append(.value(.int(Int(try byte()))))      // BININT1
            case 0x4D: stack.append(.value(.int(Int(try uint(2)))))     // BININT2
            case 0x4A: stack.append(.value(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))) // BININT
            case 0x8A: stack.append(.value(.int(try long(Int(try byte())))))  // LONG1
            case 0x8B: stack.append(.value(.int(try long(try length(4)))))    // LONG4
            case 0x47: stack.append(.value(.float(Double(bitPattern: try bigEndian(8)))))  // BINFLOAT
            case 0x58: stack.append(.value(.string(try text(try length(4)))))  // BINUNICODE
            case 0x8C: stack.append(.value(.string(try text(Int(try byte())))))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.value(.string(try text(try length(8)))))  // BINUNICODE8
            case 0x42: stack.append(.value(.bytes(try take(try length(4)))))   // BINBYTES
            case 0x43: stack.append(.value(.bytes(try take(Int(try byte())))))  // SHORT_BINBYTES
            case 0x8E: stack.append(.value(.bytes(try take(try length(8)))))   // BINBYTES8
            case 0x71: try put(Int(try byte()))                         // BINPUT
            case 0x72: try put(try length(4))                           // LONG_BINPUT
            case 0x94: try put(memo.count)                              // MEMOIZE
            case 0x68: try get(Int(try byte()))                         // BINGET
            case 0x6A: try get(try length(4))                           // LONG_BINGET
            case 0x63:                                                  // GLOBAL
                let module = try line(), name = try line()
                try pushGlobal(module + "." + name)
            case 0x93:                                                  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .value(.string(let n)) = name, case .value(.string(let m)) = module else { throw fail("STACK_GLOBAL needs two strings") }
                try pushGlobal(m + "." + n)
            case 0x74: stack.append(.tuple(try popToMark()))            // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x61:                                                  // APPEND
                let item = try pop()
                try target(list: true).list.append(item)
            case 0x65:                                                  // APPENDS
                let items = try popToMark()
                try target(list: true).list.append(contentsOf: items)
            case 0x73:                                                  // SETITEM
                let value = try pop(), key = try pop()
                try target(list: false).dict.append((key, value))
            case 0x75:                                                  // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
                let box = try target(list: false)
                for i in stride(from: 0, to: items.count, by: 2) { box.dict.append((items[i], items[i + 1])) }
            case 0x51:                                                  // BINPERSID
                stack.append(try persistent(try pop()))
            case 0x52, 0x81:                                            // REDUCE, NEWOBJ
                let args = try pop(), callable = try pop()
                guard case .tuple(let a) = args else { throw fail("a call's arguments are not a tuple") }
                stack.append(try call(callable, a))
            case 0x62:                                                  // BUILD: a module record takes its attributes;
                let state = try pop()                                   // the state of other allowed objects is ignored
                guard let top = stack.last else { throw fail("BUILD with nothing to build") }
                if case .dict(let box) = top, box.className != nil {
                    guard case .dict(let attributes) = state else { throw fail("the state of \(box.className ?? "") is not a dict") }
                    box.dict.append(contentsOf: attributes.dict)
                }
            case 0x30: _ = try pop()                                    // POP
            case 0x31: _ = try popToMark()                              // POP_MARK
            case 0x32: guard let top = stack.last else { throw fail("DUP on an empty stack") }; stack.append(top)  // DUP
            default:
                throw fail("pickle opcode 0x\(String(op, radix: 16)) at byte \(p - 1) is not one a state-dict checkpoint uses")
            }
        }
    }

    /// A TorchScript module class: `__torch__.` and a dotted name of letters, digits and underscores.
    /// TorchScript's typed-list constructors (`torch.jit._pickle`), which return the list they are given.
    static let torchScriptLists: Set<String> = [
        "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.restore_type_tag",
    ]

    static func isModuleClass(_ name: String) -> Bool {
        name.hasPrefix("__torch__.") && name.count < 512 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
    }

    private mutating func pushGlobal(_ name: String) throws {
        guard Self.allowedGlobals.contains(name) || Self.storageTypes[name] != nil || (torchScript && (Self.isModuleClass(name) || Self.torchScriptLists.contains(name))) else {
            throw fail("refuses the global \(name): a weights checkpoint needs only plain data and tensors, and nothing in it is executed")
        }
        stack.append(.value(.global(name)))
    }

    private mutating func call(_ callable: Object, _ args: [Object]) throws -> Object {
        guard case .value(.global(let name)) = callable else { throw fail("the pickle calls something that is not an allowed global") }
        func value(_ i: Int) throws -> PickleValue {
            guard i < args.count else { throw fail("\(name) called with \(args.count) arguments") }
            return try freeze(args[i], depth: 0)
        }
        if torchScript, Self.torchScriptLists.contains(name) {
            guard let first = args.first else { throw fail("\(name) called without a list") }
            return first
        }
        if torchScript, Self.isModuleClass(name) {
            guard args.isEmpty else { throw fail("the TorchScript module \(name) is created with arguments") }
            let box = Box(isDict: true)
            box.className = name
            return .dict(box)
        }
        switch name {
        case "collections.OrderedDict":
            return .dict(Box(isDict: true))
        case "builtins.set":
            let box = Box(isDict: false)
            if let first = args.first, case .list(let items) = first { box.list = items.list }
            return .list(box)
        case "torch._utils._rebuild_tensor_v2":
            guard case .value(.tensor(var ref)) = args.first ?? .mark, args.count >= 4 else {
                throw fail("_rebuild_tensor_v2 is not given a storage")
            }
            guard let offset = try value(1).int, let size = try value(2).items?.compactMap(\.int), let stride = try value(3).items?.compactMap(\.int),
                  size.count == stride.count, size.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }), offset >= 0 else {
                throw fail("_rebuild_tensor_v2 has a malformed offset, size or stride")
            }
            ref.offset = offset
            ref.size = size
            ref.stride = stride
            return .value(.tensor(ref))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = args.first else { throw fail("\(name) called without data") }
            return first
        case "torch.device":
            guard let type = try value(0).string else { throw fail("torch.device needs a string") }
            if args.count > 1, let index = try value(1).int { return .value(.device("\(type):\(index)")) }
            return .value(.device(type))
        case "_codecs.encode":
            guard let text = try value(0).string else { throw fail("_codecs.encode needs a string") }
            let encoding = args.count > 1 ? try value(1).string : "utf-8"
            if encoding == "latin1" || encoding == "latin-1" {
                var out: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value < 256 else { throw fail("_codecs.encode: character outside latin-1") }
                    out.append(UInt8(scalar.value))
                }
                return .value(.bytes(out))
            }
            return .value(.bytes(Array(text.utf8)))
        case "numpy.dtype":
            guard let code = try value(0).string else { throw fail("numpy.dtype needs a type code") }
            return .value(.dtype(code))
        case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
            guard case .dtype(let code) = try value(0), case .bytes(let raw) = try value(1) else { throw fail("numpy scalar without dtype and bytes") }
            return .value(try Self.numpyScalar(code, raw, fail))
        default:
            throw fail("refuses to call \(name)")
        }
    }

    static func numpyScalar(_ code: String, _ raw: [UInt8], _ fail: (String) -> NNError) throws -> PickleValue {
        func le(_ n: Int) throws -> UInt64 {
            guard raw.count == n else { throw fail("numpy scalar of type \(code) has \(raw.count) bytes") }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(raw[i]) << (8 * UInt64(i)) }
            return v
        }
        switch code {
        case "f8": return .float(Double(bitPattern: try le(8)))
        case "f4": return .float(Double(Float(bitPattern: UInt32(try le(4)))))
        case "f2": return .float(Double(Float(Float16(bitPattern: UInt16(try le(2))))))
        case "i8": return .int(Int(Int64(bitPattern: try le(8))))
        case "i4": return .int(Int(Int32(truncatingIfNeeded: try le(4))))
        case "i2": return .int(Int(Int16(truncatingIfNeeded: try le(2))))
        case "i1": return .int(Int(Int8(truncatingIfNeeded: try le(1))))
        case "u8": return .int(Int(truncatingIfNeeded: try le(8)))
        case "u4", "u2", "u1": return .int(Int(try le(Int(code.dropFirst()) ?? 1)))
        case "b1": return .bool(try le(1) != 0)
        default: throw fail("numpy scalar of type \(code) is not supported")
        }
    }

    /// `('storage', storage_type, key, location, numel)` → a reference to the whole storage.
    private func persistent(_ pid: Object) throws -> Object {
        guard case .tuple(let parts) = pid, parts.count >= 5,
              case .value(.string("storage")) = parts[0], case .value(.global(let type)) = parts[1],
              case .value(.string(let key)) = parts[2], case .value(.int(let numel)) = parts[4], numel >= 0 else {
            throw fail("a persistent id is not a ('storage', type, key, location, numel) tuple")
        }
        guard let dtype = Self.storageTypes[type] else { throw fail("storage type \(type) is unknown") }
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw fail("storage key \(key) is not a plain name") }
        return .value(.tensor(TensorReference(storageKey: key, dtype: dtype, offset: 0, size: [numel], stride: [1])))
    }

    private mutating func target(list: Bool) throws -> Box {
        switch stack.last {
        case .list(let box)? where list: return box
        case .dict(let box)? where !list: return box
        default: throw fail(list ? "APPEND onto something that is not a list" : "SETITEM onto something that is not a dict")
        }
    }

    private func freeze(_ o: Object, depth: Int) throws -> PickleValue {
        guard depth < 512 else { throw fail("pickle nests deeper than 512 levels (a cycle?)") }
        switch o {
        case .value(let v): return v
        case .tuple(let items): return .tuple(try items.map { try freeze($0, depth: depth + 1) })
        case .list(let box): return .list(try box.list.map { try freeze($0, depth: depth + 1) })
        case .dict(let box):
            let entries = try box.dict.map { PickleEntry(key: try freeze($0.0, depth: depth + 1), value: try freeze($0.1, depth: depth + 1)) }
            if let className = box.className { return .object(className, entries) }
            return .dict(entries)
        case .mark: throw fail("a MARK was left on the stack")
        }
    }

    private mutating func put(_ index: Int) throws {
        guard let top = stack.last else { throw fail("memo store from an empty stack") }
        memo[index] = top
    }

    private mutating func get(_ index: Int) throws {
        guard let o = memo[index] else { throw fail("memo entry \(index) is read before it is stored") }
        stack.append(o)
    }

    private mutating func pop() throws -> Object {
        guard let o = stack.popLast() else { throw fail("pickle stack underflow at byte \(p)") }
        if case .mark = o { throw fail("pickle pops a MARK at byte \(p)") }
        return o
    }

    private mutating func popToMark() throws -> [Object] {
        guard let m = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw fail("pickle has no MARK to pop to at byte \(p)")
        }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func byte() throws -> UInt8 {
        guard p < bytes.count else { throw fail("pickle ends without STOP (truncated?)") }
        p += 1
        return bytes[p - 1]
    }

    private mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, n <= bytes.count - p else { throw fail("pickle ends inside a \(n)-byte value (truncated?)") }
        p += n
        return Array(bytes[(p - n)..<p])
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }

    private mutating func bigEndian(_ n: Int) throws -> UInt64 {
        try take(n).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(bytes.count) else { throw fail("pickle value length \(v) exceeds the pickle's size (truncated?)") }
        return Int(v)
    }

    /// A little-endian two's-complement integer of `n` bytes (LONG1 / LONG4).
    private mutating func long(_ n: Int) throws -> Int {
        guard n <= 8 else { throw fail("pickle integer of \(n) bytes is too large") }
        if n == 0 { return 0 }
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        if n < 8, b[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
        return Int(Int64(bitPattern: v))
    }

    private mutating func text(_ n: Int) throws -> String {
        let b = try take(n)
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("pickle string is not valid UTF-8") }
        return s
    }

    private mutating func line() throws -> String {
        guard let end = bytes[p...].firstIndex(of: 0x0A), end - p < 1024 else { throw fail("GLOBAL name is not terminated") }
        let s = String(decoding: bytes[p..<end], as: UTF8.self)
        p = end + 1
        return s
    }
}
