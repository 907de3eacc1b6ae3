/// Voxel storage: one contiguous typed array, copy-on-write like every Swift array.
///
/// Layout is x fastest, then y, then z, then the fourth (time/channel) axis: the element of voxel
/// `(i, j, k, t)` sits at `i + nx * (j + ny * (k + nz * t))`, the same order as NIfTI files.
/// For `.rgb24` the array holds 3 bytes per voxel, R then G then B.
public enum VoxelArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case int32([Int32])
    case uint32([UInt32])
    case float32([Float])
    case float64([Double])
    case rgb24([UInt8])

    /// A zero-filled array of `count` voxels.
    public init(zeros type: VoxelType, count: Int) {
        switch type {
        case .uint8: self = .uint8(Array(repeating: 0, count: count))
        case .int8: self = .int8(Array(repeating: 0, count: count))
        case .uint16: self = .uint16(Array(repeating: 0, count: count))
        case .int16: self = .int16(Array(repeating: 0, count: count))
        case .int32: self = .int32(Array(repeating: 0, count: count))
        case .uint32: self = .uint32(Array(repeating: 0, count: count))
        case .float32: self = .float32(Array(repeating: 0, count: count))
        case .float64: self = .float64(Array(repeating: 0, count: count))
        case .rgb24: self = .rgb24(Array(repeating: 0, count: count * 3))
        }
    }

    /// Copies `count` voxels of `type` from raw bytes, swapping byte order when `byteSwapped` is true.
    /// - Precondition: `bytes.count >= count * type.byteSize` (checked; fewer bytes is a programming error
    ///   in the caller, which validates file sizes first).
    public init(type: VoxelType, count: Int, bytes: UnsafeRawBufferPointer, byteSwapped: Bool) {
        precondition(bytes.count >= count * type.byteSize, "VoxelArray: not enough bytes")
        func make<T>(_: T.Type, _ swap: (T) -> T) -> [T] {
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0, let base = buffer.baseAddress, let source = bytes.baseAddress {
                    UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: count * MemoryLayout<T>.stride)
                    if byteSwapped {
                        for n in 0..<count { base[n] = swap(base[n]) }
                    }
                }
                initialized = count
            }
        }
        switch type {
        case .uint8: self = .uint8(make(UInt8.self) { $0 })
        case .int8: self = .int8(make(Int8.self) { $0 })
        case .uint16: self = .uint16(make(UInt16.self) { $0.byteSwapped })
        case .int16: self = .int16(make(Int16.self) { $0.byteSwapped })
        case .int32: self = .int32(make(Int32.self) { $0.byteSwapped })
        case .uint32: self = .uint32(make(UInt32.self) { $0.byteSwapped })
        case .float32: self = .float32(make(Float.self) { Float(bitPattern: $0.bitPattern.byteSwapped) })
        case .float64: self = .float64(make(Double.self) { Double(bitPattern: $0.bitPattern.byteSwapped) })
        case .rgb24: self = .rgb24([UInt8](UnsafeRawBufferPointer(rebasing: bytes[0..<(count * 3)])))
        }
    }

    /// The voxel type stored.
    public var type: VoxelType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .int32: return .int32
        case .uint32: return .uint32
        case .float32: return .float32
        case .float64: return .float64
        case .rgb24: return .rgb24
        }
    }

    /// Number of voxels (not bytes, not samples).
    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .int32(let a): return a.count
        case .uint32(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .rgb24(let a): return a.count / 3
        }
    }

    /// Lends the raw host-order bytes of the array to `body`. The pointer must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .uint8(let a): return try a.withUnsafeBytes(body)
        case .int8(let a): return try a.withUnsafeBytes(body)
        case .uint16(let a): return try a.withUnsafeBytes(body)
        case .int16(let a): return try a.withUnsafeBytes(body)
        case .int32(let a): return try a.withUnsafeBytes(body)
        case .uint32(let a): return try a.withUnsafeBytes(body)
        case .float32(let a): return try a.withUnsafeBytes(body)
        case .float64(let a): return try a.withUnsafeBytes(body)
        case .rgb24(let a): return try a.withUnsafeBytes(body)
        }
    }

    /// The stored value of voxel `index` as a Double (for `.rgb24`, the mean of R, G and B).
    public func value(at index: Int) -> Double {
        switch self {
        case .uint8(let a): return Double(a[index])
        case .int8(let a): return Double(a[index])
        case .uint16(let a): return Double(a[index])
        case .int16(let a): return Double(a[index])
        case .int32(let a): return Double(a[index])
        case .uint32(let a): return Double(a[index])
        case .float32(let a): return Double(a[index])
        case .float64(let a): return a[index]
        case .rgb24(let a): return (Double(a[3 * index]) + Double(a[3 * index + 1]) + Double(a[3 * index + 2])) / 3
        }
    }
}
