/// The storage type of one voxel, as it sits in memory and in files.
///
/// Multi-byte types are stored in host byte order in memory; readers swap on the way in.
public enum VoxelType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case uint8, int8, uint16, int16, int32, uint32, float32, float64
    /// Three interleaved `UInt8` samples (R, G, B) per voxel.
    case rgb24

    /// Bytes one voxel occupies.
    public var byteSize: Int {
        switch self {
        case .uint8, .int8: return 1
        case .uint16, .int16: return 2
        case .int32, .uint32, .float32: return 4
        case .float64: return 8
        case .rgb24: return 3
        }
    }

    /// Bytes of one scalar sample (differs from `byteSize` only for colour types).
    public var sampleSize: Int { self == .rgb24 ? 1 : byteSize }

    /// True for integer scalar types (the ones a `LabelMap` may use).
    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .uint32: return true
        case .float32, .float64, .rgb24: return false
        }
    }

    /// True for floating-point scalar types.
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// Smallest and largest representable values of an integer type; nil for floating point and colour.
    public var integerRange: ClosedRange<Double>? {
        switch self {
        case .uint8: return 0...Double(UInt8.max)
        case .int8: return Double(Int8.min)...Double(Int8.max)
        case .uint16: return 0...Double(UInt16.max)
        case .int16: return Double(Int16.min)...Double(Int16.max)
        case .int32: return Double(Int32.min)...Double(Int32.max)
        case .uint32: return 0...Double(UInt32.max)
        case .float32, .float64, .rgb24: return nil
        }
    }

    public var description: String { rawValue }
}
