/// A value read from a PyTorch checkpoint's pickle by `RestrictedUnpickler`: plain data only.
/// Dicts keep their insertion order (Python's and `OrderedDict`'s).
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    case dict([PickleEntry])
    /// A tensor still in its storage: read it with `TorchCheckpoint.tensor(_:)`.
    case tensor(TensorReference)
    /// `torch.device(...)`, as its string (`cpu`, `cuda:0`).
    case device(String)
    /// `numpy.dtype(...)`, as its type code (`f8`, `i4`).
    case dtype(String)
    /// An allowed class named but not called (a storage type inside a persistent id).
    case global(String)
    /// A TorchScript module (`__torch__.…` class, never imported or run): its class name and its attributes —
    /// parameters and buffers as tensors, submodules as further objects, plain settings.
    case object(String, [PickleEntry])

    /// The member `key` of a dict with string keys (or the attribute `key` of a TorchScript module).
    public subscript(key: String) -> PickleValue? {
        switch self {
        case .dict(let entries), .object(_, let entries): return entries.first { $0.key == .string(key) }?.value
        default: return nil
        }
    }

    /// The items of a list or tuple.
    public var items: [PickleValue]? {
        switch self {
        case .list(let v), .tuple(let v): return v
        default: return nil
        }
    }

    /// The value as a string, when it is one.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }

    /// The value as a whole number (bools count as 0/1, as in Python).
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// One key–value pair of a pickled dict.
public struct PickleEntry: Sendable, Equatable {
    public var key: PickleValue
    public var value: PickleValue

    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view (`offset`, `size`, `stride`, in
/// elements) of one storage record of the archive.
public struct TensorReference: Sendable, Equatable {
    /// The storage's record name under `data/`.
    public var storageKey: String
    /// The storage's element type (`float32`, `float16`, `bfloat16`, `float64`, `int64`, …).
    public var dtype: String
    public var offset: Int
    public var size: [Int]
    public var stride: [Int]
}
