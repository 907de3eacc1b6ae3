import CDCMTK
import VoxelCore

/// One 2D image of a series: a single-frame file, or one frame of a multi-frame file.
public struct DICOMSlice: Sendable {
    /// The file holding the slice.
    public var path: String
    /// 0-based frame within the file.
    public var frame: Int
    /// The file's header (shared by all frames of a multi-frame file).
    public var header: DICOMHeader
    /// ImagePositionPatient of this frame (LPS mm), nil when the file has no geometry.
    public var position: SIMD3<Double>?
    /// ImageOrientationPatient: row direction then column direction cosines; nil when absent.
    public var orientation: [Double]?
    /// PixelSpacing: row spacing (between rows), column spacing (between columns), mm; nil when absent.
    public var pixelSpacing: [Double]?
    /// Rescale of this frame (absent tags mean slope 1, intercept 0).
    public var rescale: IntensityScaling

    /// The slice normal (row × column direction), nil without orientation.
    public var normal: SIMD3<Double>? {
        guard let o = orientation, o.count == 6 else { return nil }
        let r = SIMD3(o[0], o[1], o[2]), c = SIMD3(o[3], o[4], o[5])
        return SIMD3(r.y * c.z - r.z * c.y, r.z * c.x - r.x * c.z, r.x * c.y - r.y * c.x)
    }

    /// Slices of one file: one per frame, with per-frame geometry from functional groups when present.
    static func slices(of file: DICOMFile, header: DICOMHeader) -> [DICOMSlice] {
        let frames = max(1, header.numberOfFrames)
        let fileRescale = IntensityScaling(slope: header.rescaleSlope ?? 1, intercept: header.rescaleIntercept ?? 0)
        var out: [DICOMSlice] = []
        out.reserveCapacity(frames)
        for f in 0..<frames {
            var slice = DICOMSlice(path: file.path, frame: f, header: header,
                                   position: header.imagePosition.map { SIMD3($0[0], $0[1], $0[2]) },
                                   orientation: header.imageOrientation, pixelSpacing: header.pixelSpacing,
                                   rescale: fileRescale)
            if let g = file.frameGeometry(f) {
                func doubles<T>(_ v: T, _ n: Int) -> [Double] { withUnsafeBytes(of: v) { Array($0.bindMemory(to: Double.self).prefix(n)) } }
                if g.has_image_position != 0 { let p = doubles(g.image_position, 3); slice.position = SIMD3(p[0], p[1], p[2]) }
                if g.has_image_orientation != 0 { slice.orientation = doubles(g.image_orientation, 6) }
                if g.has_pixel_spacing != 0 { slice.pixelSpacing = doubles(g.pixel_spacing, 2) }
                if g.has_rescale_slope != 0 || g.has_rescale_intercept != 0 {
                    slice.rescale = IntensityScaling(slope: g.has_rescale_slope != 0 ? g.rescale_slope : 1,
                                                     intercept: g.has_rescale_intercept != 0 ? g.rescale_intercept : 0)
                }
                // Per-frame diffusion weighting and temporal position (enhanced DWI, fMRI) describe this frame:
                // they split the frames into volumes as the same attributes of single-frame files do.
                if g.has_diffusion_b_value != 0 { slice.header.diffusionBValue = g.diffusion_b_value }
                if g.has_diffusion_gradient != 0 { slice.header.diffusionGradient = doubles(g.diffusion_gradient, 3) }
                if g.has_temporal_position != 0 { slice.header.temporalPosition = Int(g.temporal_position) }
            }
            out.append(slice)
        }
        return out
    }
}
