import VoxelCore
import VoxelSupport

/// A printable, JSON-encodable description of a NIfTI file (what `voxelflow info` shows).
public struct NIfTISummary: Sendable, Codable, Equatable {
    /// The file described.
    public var path: String
    /// "NIfTI-1", "NIfTI-2", with " pair" for .hdr/.img.
    public var format: String
    /// 1 or 2.
    public var version: Int
    /// "little-endian" or "big-endian".
    public var byteOrder: String
    /// True when the voxels were gzip-compressed.
    public var compressed: Bool
    /// `[nx, ny, nz]` or `[nx, ny, nz, nt]`.
    public var dimensions: [Int]
    /// The stored voxel type (`VoxelType` raw value).
    public var datatype: String
    /// Voxel spacing in mm along i, j, k.
    public var spacing: [Double]
    /// Spacing of the fourth axis (4D only).
    public var timeStep: Double?
    /// Unit of `timeStep` ("s", "ms", "us") when the header says.
    public var timeUnit: String?
    /// nibabel-style axis codes, e.g. "RAS" or "LPS".
    public var orientation: String
    /// True when the axes are not aligned with the patient axes.
    public var oblique: Bool
    /// Voxel → RAS+ mm affine as 4 rows of 4 numbers (NIfTI/nibabel convention).
    public var affineRAS: [[Double]]
    /// Voxel → LPS+ mm affine (DICOM/ITK convention).
    public var affineLPS: [[Double]]
    /// "sform", "qform" or "pixdim": which header field gave the geometry.
    public var transformSource: String
    /// qform_code as stored.
    public var qformCode: Int
    /// sform_code as stored.
    public var sformCode: Int
    /// Scaling slope in effect (1 when the file says unscaled).
    public var sclSlope: Double
    /// Scaling intercept in effect.
    public var sclIntercept: Double
    /// Smallest stored value (before scaling); nil when all values are NaN.
    public var storedMin: Double?
    /// Largest stored value (before scaling).
    public var storedMax: Double?
    /// Smallest physical (scaled) value.
    public var min: Double?
    /// Largest physical (scaled) value.
    public var max: Double?
    /// The header's `descrip` text.
    public var description: String?
    /// Oddities found while reading (see `NIfTIImage.warnings`).
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
