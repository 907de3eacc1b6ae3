import VoxelCore
import VoxelSupport

extension Volume {
    /// SHA-256 of the stored voxels as little-endian bytes in file order (x fastest), as the oracle hashes them.
    public func storedSHA256() -> String {
        voxels.withUnsafeBytes { SHA256.hex($0) }
    }

    /// SHA-256 of the scaled values as little-endian float64 in file order, as nibabel's `get_fdata()`.
    public func scaledSHA256() -> String {
        var hasher = SHA256()
        let slope = scaling.slope
        let intercept = scaling.intercept
        func hash<T>(_ values: [T], _ toDouble: (T) -> Double) {
            var chunk = [Double](repeating: 0, count: 65536)
            var i = 0
            while i < values.count {
                let end = Swift.min(values.count, i + 65536)
                for j in i..<end { chunk[j - i] = toDouble(values[j]) * slope + intercept }
                chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<((end - i) * 8)])) }
                i = end
            }
        }
        switch voxels {
        case .uint8(let a): hash(a) { Double($0) }
        case .int8(let a): hash(a) { Double($0) }
        case .uint16(let a): hash(a) { Double($0) }
        case .int16(let a): hash(a) { Double($0) }
        case .int32(let a): hash(a) { Double($0) }
        case .uint32(let a): hash(a) { Double($0) }
        case .float32(let a): hash(a) { Double($0) }
        case .float64(let a): hash(a) { $0 }
        case .rgb24(let a): hash(a) { Double($0) }
        }
        return hasher.hexDigest()
    }
}
