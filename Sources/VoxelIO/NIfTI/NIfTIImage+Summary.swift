import VoxelCore

/// A printable, JSON-encodable description of a NIfTI file (what `voxelflow info` shows).
public struct NIfTISummary: Sendable, Codable, Equatable {
    public var path: String
    public var format: String
    public var version: Int
    public var byteOrder: String
    public var compressed: Bool
    /// `[nx, ny, nz]` or `[nx, ny, nz, nt]`.
    public var dimensions: [Int]
    public var datatype: String
    /// Voxel spacing in mm along i, j, k.
    public var spacing: [Double]
    public var timeStep: Double?
    /// Unit of `timeStep` ("s", "ms", "us") when the header says.
    public var timeUnit: String?
    /// nibabel-style axis codes, e.g. "RAS" or "LPS".
    public var orientation: String
    public var oblique: Bool
    /// Voxel → world affines as 4 rows of 4 numbers.
    public var affineRAS: [[Double]]
    public var affineLPS: [[Double]]
    public var transformSource: String
    public var qformCode: Int
    public var sformCode: Int
    public var sclSlope: Double
    public var sclIntercept: Double
    public var storedMin: Double?
    public var storedMax: Double?
    public var min: Double?
    public var max: Double?
    public var description: String?
    public var warnings: [String]
}

extension NIfTIImage {
    /// Summarises the image read from `path`.
    public func summary(path: String) -> NIfTISummary {
        let g = volume.geometry
        let dims = volume.timePoints > 1 ? volume.shape : Array(volume.shape.prefix(3))
        let stored = volume.voxels.storedRange()
        let physical = volume.physicalRange()
        return NIfTISummary(
            path: path,
            format: "NIfTI-\(header.version)" + (header.isPair ? " pair" : ""),
            version: header.version, byteOrder: header.isBigEndian ? "big-endian" : "little-endian",
            compressed: header.isCompressed, dimensions: dims, datatype: volume.voxelType.rawValue,
            spacing: [g.spacing.x, g.spacing.y, g.spacing.z],
            timeStep: volume.timePoints > 1 ? volume.timeStep : nil,
            timeUnit: [8: "s", 16: "ms", 24: "us"][header.timeUnits],
            orientation: g.orientationCode, oblique: g.isOblique(),
            affineRAS: g.affine.flippingLPSandRAS.rows, affineLPS: g.affine.rows,
            transformSource: header.transformSource.rawValue,
            qformCode: header.qformCode, sformCode: header.sformCode,
            sclSlope: volume.scaling.slope, sclIntercept: volume.scaling.intercept,
            storedMin: stored?.lowerBound, storedMax: stored?.upperBound,
            min: physical?.lowerBound, max: physical?.upperBound,
            description: volume.metadata.description, warnings: warnings)
    }
}
