import VoxelCore
import VoxelNN

/// The order in which a network expects a volume's axes in its `N × C × D × H × W` tensor. Convolution kernels
/// are not symmetric, so a network only agrees with the framework that trained it when it gets the axes in
/// that framework's order.
public enum TensorAxes: String, Sendable, CaseIterable {
    /// VoxelFlow's own order: D = k (slices), H = j, W = i (fastest). Models trained by `voxelflow train`.
    case kji
    /// MONAI's and nibabel's order: D = i, H = j, W = k (fastest). Models trained in MONAI on NIfTI files
    /// (MONAI bundles, checkpoints converted from MONAI).
    case ijk

    /// The tensor axis (0 = D, 1 = H, 2 = W) of the volume axis `i`, `j` or `k`.
    public func tensorAxis(_ volumeAxis: String) -> Int? {
        switch self {
        case .kji: return ["k": 0, "j": 1, "i": 2][volumeAxis]
        case .ijk: return ["i": 0, "j": 1, "k": 2][volumeAxis]
        }
    }

    /// The volume axis (`i`, `j` or `k`) in tensor axis `axis` (0 = D, 1 = H, 2 = W).
    public func axisName(ofTensorAxis axis: Int) -> String {
        let names = self == .kji ? ["k", "j", "i"] : ["i", "j", "k"]
        return names.indices.contains(axis) ? names[axis] : "?"
    }

    /// A window size given along i, j, k, in tensor order.
    public func tensorOrder(_ ijk: [Int]) -> [Int] { self == .kji ? ijk.reversed() : ijk }

    /// The network's input for an image whose time points are channels.
    func tensor(_ image: Volume) throws -> Tensor {
        let s = image.geometry.size
        let data = image.physicalFloats()
        switch self {
        case .kji: return try Tensor(shape: [1, image.timePoints, s.z, s.y, s.x], data: data)
        case .ijk: return try Tensor(shape: [1, image.timePoints, s.x, s.y, s.z], data: Self.reversed(data, channels: image.timePoints, dims: (s.z, s.y, s.x)))
        }
    }

    /// Volume-order (k slowest) values from tensor-order values of `channels` × `size` voxels.
    func volumeOrder<T>(_ data: [T], channels: Int, size: SIMD3<Int>) -> [T] {
        self == .kji ? data : Self.reversed(data, channels: channels, dims: (size.x, size.y, size.z))
    }

    /// Labels in volume order from a label array in tensor order.
    func volumeOrder(_ labels: VoxelArray, size: SIMD3<Int>) -> VoxelArray {
        guard self == .ijk else { return labels }
        switch labels {
        case .uint8(let v): return .uint8(volumeOrder(v, channels: 1, size: size))
        case .uint16(let v): return .uint16(volumeOrder(v, channels: 1, size: size))
        default: return labels
        }
    }

    /// `data` as `channels` blocks of `dims.0 × dims.1 × dims.2` (last fastest) turned into
    /// `dims.2 × dims.1 × dims.0` blocks: the spatial axes reversed.
    static func reversed<T>(_ data: [T], channels: Int, dims: (Int, Int, Int)) -> [T] {
        let (a, b, c) = dims
        let block = a * b * c
        guard block > 0, !data.isEmpty else { return data }
        var out = data
        for ch in 0..<channels {
            let base = ch * block
            for x in 0..<a {
                for y in 0..<b {
                    let from = base + (x * b + y) * c
                    for z in 0..<c { out[base + (z * b + y) * a + x] = data[from + z] }
                }
            }
        }
        return out
    }
}
