/// Linear map from stored voxel values to physical values: `physical = stored * slope + intercept`.
///
/// Mirrors NIfTI `scl_slope/scl_inter` and DICOM `RescaleSlope/RescaleIntercept`. Keeping the stored values
/// and the scaling apart lets a file round-trip bit for bit.
public struct IntensityScaling: Sendable, Equatable, Hashable, Codable {
    /// Multiplier (never 0: a zero slope means "unscaled" in NIfTI and becomes `.identity`).
    public var slope: Double
    /// Offset added after the multiplication, in physical units.
    public var intercept: Double

    /// Creates a scaling; a slope of 0 or a non-finite slope gives the identity (NIfTI's rule).
    public init(slope: Double, intercept: Double) {
        if slope == 0 || !slope.isFinite {
            self.slope = 1
            self.intercept = 0
        } else {
            self.slope = slope
            self.intercept = intercept.isFinite ? intercept : 0
        }
    }

    /// slope 1, intercept 0.
    public static let identity = IntensityScaling(slope: 1, intercept: 0)

    /// True when the scaling changes nothing.
    public var isIdentity: Bool { slope == 1 && intercept == 0 }

    /// Applies the scaling to one stored value.
    @inlinable public func apply(_ stored: Double) -> Double { stored * slope + intercept }
}
