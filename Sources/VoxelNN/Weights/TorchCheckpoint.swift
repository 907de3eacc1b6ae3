import Foundation

/// A PyTorch checkpoint as `torch.save` writes it since PyTorch 1.6: a ZIP archive holding `<name>/data.pkl`
/// (the pickled object) and one record `<name>/data/<key>` per storage. The pickle is read by a restricted
/// unpickler that builds plain data only and refuses every other global by name, so opening a checkpoint never
/// runs code from it (PyTorch's `weights_only=True`). Tensors are read from their storages on request, with
/// every view checked to lie inside its storage.
///
/// The file is memory-mapped; the optimizer state and other tensors a caller never asks for are never read.
///
/// TorchScript archives (`torch.jit.save`, MONAI bundles' `model.ts`) are read for their weights only: the module
/// tree in `data.pkl` becomes nested `PickleValue.object`s (no class is looked up, `code/` is never read), and
/// `stateDict()` walks it into the names `state_dict()` would give.
public struct TorchCheckpoint: Sendable {
    /// The checkpoint's file path.
    public let path: String
    /// The unpickled object: for nnU-Net, a dict with `network_weights`, `init_args`, `trainer_name`,
    /// `inference_allowed_mirroring_axes`, …; for a bare `state_dict`, the dict of tensors itself.
    public let root: PickleValue
    /// True for a TorchScript archive (it has `constants.pkl` beside `data.pkl`).
    public let isTorchScript: Bool
    private let archive: ZipArchive
    private let prefix: String

    /// Opens and unpickles a checkpoint.
    /// - Throws: `NNError.invalidWeightsFile` when the file is missing, not a ZIP archive (the legacy pre-1.6
    ///   format is refused by name), truncated, big-endian, or its pickle names a refused global.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw NNError.invalidWeightsFile(path: path, reason: "no such file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw NNError.invalidWeightsFile(path: path, reason: "cannot read it: \(error.localizedDescription)")
        }
        if data.count >= 2, data[data.startIndex] == 0x80, data[data.startIndex + 1] <= 5 {
            throw NNError.invalidWeightsFile(path: path, reason: "a legacy (pre-1.6) PyTorch file; re-save it with torch.save from PyTorch 1.6 or later")
        }
        try self.init(data: data, path: path)
    }

    /// Reads a checkpoint held in memory (`path` names it in errors).
    public init(data: Data, path: String) throws {
        let archive = try ZipArchive(data: data, path: path)
        guard let pickle = archive.names.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) else {
            throw NNError.invalidWeightsFile(path: path, reason: "the archive has no data.pkl (not a torch.save checkpoint)")
        }
        let prefix = String(pickle.dropLast("data.pkl".count))
        if archive.entries[prefix + "byteorder"] != nil {
            let order = String(decoding: try archive.bytes(of: prefix + "byteorder"), as: UTF8.self)
            guard order == "little" else { throw NNError.invalidWeightsFile(path: path, reason: "byte order \(order) is not supported") }
        }
        isTorchScript = archive.entries[prefix + "constants.pkl"] != nil
        var unpickler = RestrictedUnpickler(bytes: try archive.bytes(of: pickle), path: path, torchScript: isTorchScript)
        root = try unpickler.load()
        self.archive = archive
        self.prefix = prefix
        self.path = path
    }

    /// The tensor a reference describes, as contiguous float32 (integers and bools converted).
    /// - Throws: `NNError.invalidWeightsFile` when the storage record is missing or too short for the view.
    public func tensor(_ ref: TensorReference) throws -> Tensor {
        func fail(_ why: String) -> NNError { .invalidWeightsFile(path: path, reason: why) }
        let size: Int
        switch ref.dtype {
        case "float64", "int64": size = 8
        case "float32", "int32": size = 4
        case "float16", "bfloat16", "int16": size = 2
        default: size = 1
        }
        let range = try archive.range(of: prefix + "data/" + ref.storageKey)
        let available = range.count / size
        let count = ref.size.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard count < Int.max / 8 else { throw fail("tensor of size \(ref.size) is impossibly large") }
        if count > 0 {
            var last = ref.offset
            for (n, s) in zip(ref.size, ref.stride) {
                let (m, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(m)
                guard !o1, !o2 else { throw fail("tensor view overflows") }
                last = sum
            }
            guard last < available else {
                throw fail("a tensor of size \(ref.size) reads element \(last) of storage \(ref.storageKey), which holds \(available) (truncated or hostile file)")
            }
        }
        var values = [Float](repeating: 0, count: count)
        let base = range.lowerBound
        let rank = ref.size.count
        archive.data.withUnsafeBytes { raw in
            func element(_ i: Int) -> Float {
                let o = base + i * size
                switch ref.dtype {
                case "float32": return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                case "float16": return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))))
                case "bfloat16": return Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))) << 16)
                case "float64": return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))))
                case "int64": return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int64.self)))
                case "int32": return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                case "int16": return Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                case "int8": return Float(raw.load(fromByteOffset: o, as: Int8.self))
                default: return Float(raw.load(fromByteOffset: o, as: UInt8.self))
                }
            }
            guard count > 0 else { return }
            var contiguous = true, expected = 1
            for a in stride(from: rank - 1, through: 0, by: -1) where ref.size[a] != 1 {
                if ref.stride[a] != expected { contiguous = false }
                expected *= ref.size[a]
            }
            if contiguous, ref.dtype == "float32" {
                let start = base + 4 * ref.offset
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)])) }
                return
            }
            var index = [Int](repeating: 0, count: rank)
            var offset = ref.offset
            for i in 0..<count {
                values[i] = element(offset)
                var a = rank - 1
                while a >= 0 {
                    index[a] += 1
                    offset += ref.stride[a]
                    if index[a] < ref.size[a] { break }
                    offset -= ref.stride[a] * ref.size[a]
                    index[a] = 0
                    a -= 1
                }
            }
        }
        return try Tensor(shape: ref.size, data: values)
    }

    /// The tensors of a state dict (a dict from names to tensors) found at `key` in the root dict — nnU-Net's
    /// `network_weights`, Lightning's `state_dict` — or the root itself when `key` is nil.
    /// - Throws: `NNError.invalidWeightsFile` when there is no such dict or an entry is not a tensor.
    ///
    /// For a TorchScript archive (`key` nil), the tensors of the module tree: each tensor attribute named by its
    /// path of attribute names (`model.0.conv.weight`), submodules in the order they were saved; a module reached
    /// by two paths gives its tensors under both, as `state_dict()` does.
    public func stateDict(at key: String? = nil) throws -> [(name: String, tensor: TensorReference)] {
        if key == nil, case .object = root {
            var out: [(name: String, tensor: TensorReference)] = []
            func walk(_ value: PickleValue, _ prefix: String, depth: Int) throws {
                guard depth < 256 else { throw NNError.invalidWeightsFile(path: path, reason: "TorchScript modules nest deeper than 256 levels") }
                guard case .object(_, let attributes) = value else { return }
                for entry in attributes {
                    guard let name = entry.key.string else { continue }
                    switch entry.value {
                    case .tensor(let ref): out.append((prefix + name, ref))
                    case .object: try walk(entry.value, prefix + name + ".", depth: depth + 1)
                    default: continue
                    }
                }
            }
            try walk(root, "", depth: 0)
            guard !out.isEmpty else { throw NNError.invalidWeightsFile(path: path, reason: "the TorchScript module holds no tensors") }
            return out
        }
        let dict = key.map { root[$0] } ?? root
        guard case .dict(let entries)? = dict else {
            throw NNError.invalidWeightsFile(path: path, reason: key.map { "has no state dict under \"\($0)\"" } ?? "does not hold a state dict")
        }
        return try entries.map { entry in
            guard let name = entry.key.string, case .tensor(let ref) = entry.value else {
                throw NNError.invalidWeightsFile(path: path, reason: "state dict entry \(entry.key) is not a named tensor")
            }
            return (name, ref)
        }
    }

    /// The state dict at `key` as a name-indexed weights store the networks load from. `rename` may map each
    /// name to another (nil drops the tensor); `reshape` may give a tensor another shape of equal size.
    public func weights(at key: String? = nil, rename: (String) -> String? = { $0 },
                        reshape: (String, [Int]) -> [Int] = { $1 }) throws -> Safetensors {
        var tensors: [(String, Tensor)] = []
        for (name, ref) in try stateDict(at: key) {
            guard let newName = rename(name) else { continue }
            let t = try tensor(ref)
            tensors.append((newName, try t.reshaped(reshape(newName, t.shape))))
        }
        return try Safetensors(tensors: tensors, path: path)
    }
}
