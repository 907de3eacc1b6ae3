import VoxelCore

/// Why a transform could not be applied or inverted.
public enum TransformError: Error, Equatable, CustomStringConvertible {
    /// A parameter is out of range or malformed (the message names it).
    case invalidParameter(String)
    /// The volume does not fit the transform (wrong type, shape, or the grid of the record).
    case incompatibleVolume(String)

    public var description: String {
        switch self {
        case .invalidParameter(let s): return "invalid parameter: \(s)"
        case .incompatibleVolume(let s): return "incompatible volume: \(s)"
        }
    }
}

extension VoxelArray {
    /// A new array of `count` voxels of the same type whose voxel `n` is voxel `source(n)` of this array,
    /// or the stored value `fill` (rounded and clamped to the type) when `source(n)` is nil. The workhorse
    /// of exact, interpolation-free spatial transforms.
    func gathered(count: Int, fill: Double = 0, _ source: (Int) -> Int?) -> VoxelArray {
        func int<T: FixedWidthInteger>(_: T.Type) -> T {
            let r = fill.rounded()
            if r <= Double(T.min) { return T.min }
            if r >= Double(T.max) { return T.max }
            return T(r)
        }
        func run<T>(_ a: [T], _ zero: T) -> [T] {
            [T](unsafeUninitializedCapacity: count) { out, initialized in
                for n in 0..<count { out[n] = source(n).map { a[$0] } ?? zero }
                initialized = count
            }
        }
        switch self {
        case .uint8(let a): return .uint8(run(a, int(UInt8.self)))
        case .int8(let a): return .int8(run(a, int(Int8.self)))
        case .uint16(let a): return .uint16(run(a, int(UInt16.self)))
        case .int16(let a): return .int16(run(a, int(Int16.self)))
        case .int32(let a): return .int32(run(a, int(Int32.self)))
        case .uint32(let a): return .uint32(run(a, int(UInt32.self)))
        case .float32(let a): return .float32(run(a, Float(fill)))
        case .float64(let a): return .float64(run(a, fill))
        case .rgb24(let a):
            var out = [UInt8](repeating: 0, count: count * 3)
            for n in 0..<count {
                if let s = source(n) { out[3 * n] = a[3 * s]; out[3 * n + 1] = a[3 * s + 1]; out[3 * n + 2] = a[3 * s + 2] }
            }
            return .rgb24(out)
        }
    }
}
