import VoxelCore

/// The parts of a NIfTI header VoxelFlow reports and preserves. Matrices are in NIfTI's RAS+ frame.
public struct NIfTIHeader: Sendable, Equatable {
    /// Which spatial transform gave the volume its geometry.
    public enum TransformSource: String, Sendable, Codable {
        /// `sform_code > 0`: the srow matrix.
        case sform
        /// `qform_code > 0` and no sform: the quaternion.
        case qform
        /// Neither code set: nibabel's fallback from pixdim (x flipped, origin at the centre).
        case pixdim
    }

    /// 1 or 2.
    public var version: Int
    /// True when the file was big-endian.
    public var isBigEndian: Bool
    /// True for a `.hdr`/`.img` pair.
    public var isPair: Bool
    /// dim[0...7].
    public var dim: [Int]
    /// pixdim[0...7] (pixdim[0] is qfac).
    public var pixdim: [Double]
    /// The datatype code.
    public var datatypeCode: Int
    /// scl_slope as stored (0 means unscaled).
    public var sclSlope: Double
    /// scl_inter as stored.
    public var sclInter: Double
    /// qform_code (0 unknown, 1 scanner, 2 aligned, 3 Talairach, 4 MNI-152, 5 template).
    public var qformCode: Int
    /// sform_code (same codes as `qformCode`).
    public var sformCode: Int
    /// The qform matrix (meaningful when `qformCode > 0`).
    public var qform: Affine
    /// The sform matrix (meaningful when `sformCode > 0`).
    public var sform: Affine
    /// Byte offset of the voxels in the data file.
    public var voxOffset: Int
    /// Spatial unit code from xyzt_units (2 = mm).
    public var xyzUnits: Int
    /// Temporal unit code from xyzt_units (8 = s, 16 = ms, 24 = µs).
    public var timeUnits: Int
    /// intent_code.
    public var intentCode: Int
    /// The `descrip` text, trailing spaces removed.
    public var descrip: String
    /// Where the geometry came from.
    public var transformSource: TransformSource
    /// True when the voxel data was gzip-compressed.
    public var isCompressed: Bool = false
}

/// A NIfTI file read into memory.
public struct NIfTIImage: Sendable {
    /// The voxels and geometry (LPS).
    public var volume: Volume
    /// The header as found in the file.
    public var header: NIfTIHeader
    /// Things that were odd but readable (qform/sform disagreement, ignored trailing data…).
    public var warnings: [String]
}
