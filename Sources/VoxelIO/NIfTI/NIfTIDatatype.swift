import VoxelCore

/// NIfTI `datatype` codes and their mapping to `VoxelType`.
public enum NIfTIDatatype {
    /// Code → VoxelType for the types VoxelFlow stores.
    static let byCode: [Int: VoxelType] = [
        2: .uint8, 4: .int16, 8: .int32, 16: .float32, 64: .float64, 128: .rgb24,
        256: .int8, 512: .uint16, 768: .uint32,
    ]

    /// Names of every code the standard defines, for error messages.
    static let names: [Int: String] = [
        0: "unknown", 1: "binary", 2: "uint8", 4: "int16", 8: "int32", 16: "float32", 32: "complex64",
        64: "float64", 128: "rgb24", 256: "int8", 512: "uint16", 768: "uint32", 1024: "int64", 1280: "uint64",
        1536: "float128", 1792: "complex128", 2048: "complex256", 2304: "rgba32",
    ]

    /// The voxel type for a NIfTI code, or nil when unsupported.
    public static func voxelType(forCode code: Int) -> VoxelType? { byCode[code] }

    /// The NIfTI code for a voxel type.
    public static func code(for type: VoxelType) -> Int {
        switch type {
        case .uint8: return 2
        case .int16: return 4
        case .int32: return 8
        case .float32: return 16
        case .float64: return 64
        case .rgb24: return 128
        case .int8: return 256
        case .uint16: return 512
        case .uint32: return 768
        }
    }

    /// Human-readable name of a code ("int16", "complex64", …).
    public static func name(ofCode code: Int) -> String { names[code] ?? "undefined" }
}
