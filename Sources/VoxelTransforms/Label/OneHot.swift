import VoxelCore

/// One-hot encoding of a label map (MONAI `AsDiscrete(to_onehot=…)`): a float32 volume with one channel per
/// class on the fourth axis, channel c being 1 where the label equals `classes[c]` and 0 elsewhere.
/// Labels missing from `classes` give all-zero channels. `argmax` inverts it exactly.
public struct OneHot: Codable, Sendable, Equatable {
    /// The label of each channel, in channel order (usually 0, 1, …, n − 1 with background first).
    public var classes: [Int]

    /// Creates the encoding; classes must be distinct.
    public init(classes: [Int]) throws {
        guard !classes.isEmpty, Set(classes).count == classes.count else {
            throw TransformError.invalidParameter("classes must be a non-empty list of distinct labels, got \(classes)")
        }
        self.classes = classes
    }

    /// The one-hot volume: x, y, z as the label map, channels on the fourth axis.
    public func apply(_ labels: LabelMap) throws -> Volume {
        let v = labels.volume
        let n = v.geometry.voxelCount
        let channel = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var values = [Float](repeating: 0, count: n * classes.count)
        for i in 0..<n {
            if let c = channel[Int(v.voxels.value(at: i))] { values[c * n + i] = 1 }
        }
        return try Volume(geometry: v.geometry, voxels: .float32(values), timePoints: classes.count, metadata: v.metadata)
    }

    /// Labels from channel scores (one-hot, probabilities or logits): the class of the largest channel at
    /// each voxel (the first on ties), as a label map of the smallest fitting integer type.
    public func argmax(_ scores: Volume) throws -> LabelMap {
        guard scores.timePoints == classes.count else {
            throw TransformError.incompatibleVolume("\(scores.timePoints) channels for \(classes.count) classes")
        }
        let n = scores.geometry.voxelCount
        var out = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            var best = 0, bestValue = -Double.infinity
            for c in 0..<classes.count {
                let x = scores.voxels.value(at: c * n + i)
                if x > bestValue { best = c; bestValue = x }
            }
            out[i] = Int32(classes[best])
        }
        let lo = classes.min() ?? 0, hi = classes.max() ?? 0
        let voxels: VoxelArray = lo >= 0 && hi <= 255 ? .uint8(out.map { UInt8($0) })
            : (lo >= -32768 && hi <= 32767 ? .int16(out.map { Int16($0) }) : .int32(out))
        return try LabelMap(Volume(geometry: scores.geometry, voxels: voxels, metadata: scores.metadata))
    }
}
