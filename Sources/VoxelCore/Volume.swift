/// A scan in memory: voxels, their world geometry, how stored values map to physical units, and metadata.
///
/// `Volume` is a value type: copies share storage until one of them is mutated (copy-on-write, via the
/// arrays inside `VoxelArray`). Shape is `(nx, ny, nz, nt)` with `nt == timePoints` (1 for 3D scans);
/// voxel `(i, j, k, t)` is element `i + nx * (j + ny * (k + nz * t))` of `voxels`.
public struct Volume: Sendable, Equatable {
    /// The spatial grid (the first three axes).
    public var geometry: Geometry
    /// Length of the fourth axis: time points of a 4D series or channels; 1 for a 3D volume.
    public private(set) var timePoints: Int
    /// Spacing of the fourth axis in its own unit (seconds for fMRI time series); 1 when unknown.
    public var timeStep: Double
    /// The stored voxel values.
    public private(set) var voxels: VoxelArray
    /// Stored → physical value mapping (e.g. to HU).
    public var scaling: IntensityScaling
    /// Descriptive metadata.
    public var metadata: Metadata

    /// Creates a volume, checking that the voxel count matches `geometry.size` × `timePoints`.
    public init(geometry: Geometry, voxels: VoxelArray, timePoints: Int = 1, timeStep: Double = 1,
                scaling: IntensityScaling = .identity, metadata: Metadata = Metadata()) throws {
        let s = geometry.size
        guard s.x > 0, s.y > 0, s.z > 0, timePoints > 0 else {
            throw VolumeError.invalidSize("\(s.x)×\(s.y)×\(s.z)×\(timePoints)")
        }
        let (n, overflow) = geometry.voxelCount.multipliedReportingOverflow(by: timePoints)
        guard !overflow, n == voxels.count else {
            throw VolumeError.voxelCountMismatch(expected: overflow ? Int.max : n, actual: voxels.count)
        }
        self.geometry = geometry
        self.voxels = voxels
        self.timePoints = timePoints
        self.timeStep = timeStep
        self.scaling = scaling
        self.metadata = metadata
    }

    /// The voxel type stored.
    public var voxelType: VoxelType { voxels.type }

    /// `(nx, ny, nz, nt)`.
    public var shape: [Int] { [geometry.size.x, geometry.size.y, geometry.size.z, timePoints] }

    /// Linear index of voxel `(i, j, k, t)` into `voxels`.
    @inlinable public func linearIndex(_ i: Int, _ j: Int, _ k: Int, _ t: Int = 0) -> Int {
        i + geometry.size.x * (j + geometry.size.y * (k + geometry.size.z * t))
    }

    /// Physical (scaled) value of voxel `(i, j, k, t)`.
    public func value(_ i: Int, _ j: Int, _ k: Int, _ t: Int = 0) -> Double {
        scaling.apply(voxels.value(at: linearIndex(i, j, k, t)))
    }

    /// Range of physical (scaled) values, ignoring NaN; nil for an all-NaN volume.
    public func physicalRange() -> ClosedRange<Double>? {
        guard let r = voxels.storedRange() else { return nil }
        let a = scaling.apply(r.lowerBound)
        let b = scaling.apply(r.upperBound)
        return min(a, b)...max(a, b)
    }

    /// Replaces the voxels with an array of the same count (any type).
    public mutating func replaceVoxels(_ newVoxels: VoxelArray) throws {
        guard newVoxels.count == voxels.count else {
            throw VolumeError.voxelCountMismatch(expected: voxels.count, actual: newVoxels.count)
        }
        voxels = newVoxels
    }
}

extension Volume {
    /// Physical values (stored × slope + intercept) as float32, in storage order: x fastest, then y, z and
    /// time — which is a `T × nz × ny × nx` NCDHW tensor's channel-major layout.
    public func physicalFloats() -> [Float] {
        let s = scaling
        return (0..<voxels.count).map { Float(s.apply(voxels.value(at: $0))) }
    }
}
