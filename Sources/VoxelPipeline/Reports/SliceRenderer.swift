import Foundation
import VoxelCore

/// The three radiological views of a report picture.
public enum ReportView: String, Sendable, CaseIterable {
    /// Patient's right on the viewer's left, anterior at the top (seen from the feet).
    case axial
    /// Patient's right on the viewer's left, superior at the top (seen from the front).
    case coronal
    /// Anterior on the viewer's left, superior at the top (seen from the patient's left).
    case sagittal

    /// World (LPS) direction of the picture's columns and rows, and the view's normal.
    var axes: (column: SIMD3<Double>, row: SIMD3<Double>, normal: SIMD3<Double>) {
        switch self {
        case .axial: return (SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1))
        case .coronal: return (SIMD3(1, 0, 0), SIMD3(0, 0, -1), SIMD3(0, 1, 0))
        case .sagittal: return (SIMD3(0, 1, 0), SIMD3(0, 0, -1), SIMD3(1, 0, 0))
        }
    }

    /// Orientation letters at the picture's left, right, top and bottom edges.
    public var letters: (left: String, right: String, top: String, bottom: String) {
        switch self {
        case .axial: return ("R", "L", "A", "P")
        case .coronal: return ("R", "L", "S", "I")
        case .sagittal: return ("A", "P", "S", "I")
        }
    }
}

/// A display window: intensities from `level − width/2` (black) to `level + width/2` (white).
public struct DisplayWindow: Sendable, Equatable {
    /// Centre of the window.
    public var level: Double
    /// Width of the window (> 0).
    public var width: Double
    /// A window from its centre and width.
    public init(level: Double, width: Double) {
        self.level = level
        self.width = max(width, 1e-6)
    }

    /// Named CT windows (HU): soft tissue, brain, bone, lung.
    public static let presets: [String: DisplayWindow] = [
        "soft-tissue": DisplayWindow(level: 40, width: 400), "brain": DisplayWindow(level: 40, width: 80),
        "bone": DisplayWindow(level: 500, width: 2000), "lung": DisplayWindow(level: -600, width: 1500),
    ]

    /// A window written as "LEVEL,WIDTH" (width > 0), or nil.
    public static func parse(_ text: String) -> DisplayWindow? {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let level = parts[0], let width = parts[1], width > 0, level.isFinite, width.isFinite else { return nil }
        return DisplayWindow(level: level, width: width)
    }

    /// The default for `volume`: the soft-tissue window for CT (Hounsfield units), otherwise the 1st to
    /// 99th percentile of the intensities.
    public static func automatic(for volume: Volume) -> DisplayWindow {
        if volume.metadata.modality == "CT" || volume.metadata.intensityUnit == "HU" { return presets["soft-tissue"] ?? DisplayWindow(level: 40, width: 400) }
        var values = volume.physicalFloats()
        guard !values.isEmpty else { return DisplayWindow(level: 0, width: 1) }
        values.sort()
        let low = Double(values[values.count / 100]), high = Double(values[min(values.count - 1, values.count * 99 / 100)])
        return DisplayWindow(level: (low + high) / 2, width: max(high - low, 1e-6))
    }

    /// The grey level (0…255) of an intensity.
    @inlinable func grey(_ v: Float) -> UInt8 {
        let t = (Double(v) - (level - width / 2)) / width
        return UInt8((min(1, max(0, t)) * 255).rounded())
    }
}

/// A rendered report picture: RGB pixels and the size of a pixel in millimetres.
public struct ReportPicture: Sendable {
    /// Pixels, rows top to bottom, 3 bytes each.
    public var rgb: [UInt8]
    /// Width and height in pixels.
    public var width: Int, height: Int
    /// Millimetres per pixel (the same along both axes).
    public var millimetresPerPixel: Double
    /// The view.
    public var view: ReportView
}

/// Draws slices of a scan with label outlines or fills, in radiological orientation, on any grid (oblique
/// ones included): every picture pixel is a world point looked up in the scan and the labels, nearest voxel.
public struct SliceRenderer: Sendable {
    /// Intensities of the scan (physical values), its grid and its inverse affine.
    let intensities: [Float]
    let labels: [UInt16]
    let grid: Geometry
    let inverse: Affine
    let window: DisplayWindow
    /// World bounding box of the scan.
    let low: SIMD3<Double>, high: SIMD3<Double>
    /// Picture pixel size (mm): the scan's finest spacing.
    let pixel: Double

    /// A renderer of `image` with `labels` (on any grid; looked up through world coordinates).
    public init?(image: Volume, labels: LabelMap, window: DisplayWindow) {
        guard let inverse = labels.geometry.affine.inverse, let imageInverse = image.geometry.affine.inverse else { return nil }
        // Labels are brought onto the image grid once, nearest voxel, so that pictures index one grid.
        let g = image.geometry
        var onImage = [UInt16](repeating: 0, count: g.voxelCount)
        let toLabels = inverse * g.affine
        let lg = labels.geometry
        for k in 0..<g.size.z {
            for j in 0..<g.size.y {
                for i in 0..<g.size.x {
                    let p = toLabels.apply(SIMD3(Double(i), Double(j), Double(k)))
                    let a = Int(p.x.rounded()), b = Int(p.y.rounded()), c = Int(p.z.rounded())
                    guard a >= 0, b >= 0, c >= 0, a < lg.size.x, b < lg.size.y, c < lg.size.z else { continue }
                    onImage[(k * g.size.y + j) * g.size.x + i] = UInt16(clamping: labels.label(a, b, c))
                }
            }
        }
        self.intensities = Array(image.physicalFloats().prefix(g.voxelCount))
        self.labels = onImage
        self.grid = g
        self.inverse = imageInverse
        self.window = window
        var low = SIMD3(Double.infinity, .infinity, .infinity), high = -low
        for corner in 0..<8 {
            let c = SIMD3(corner & 1 == 0 ? -0.5 : Double(g.size.x) - 0.5, corner & 2 == 0 ? -0.5 : Double(g.size.y) - 0.5,
                          corner & 4 == 0 ? -0.5 : Double(g.size.z) - 0.5)
            let w = g.affine.apply(c)
            low = SIMD3(min(low.x, w.x), min(low.y, w.y), min(low.z, w.z))
            high = SIMD3(max(high.x, w.x), max(high.y, w.y), max(high.z, w.z))
        }
        self.low = low
        self.high = high
        self.pixel = max(0.05, min(g.spacing.x, g.spacing.y, g.spacing.z))
    }

    /// The picture of `view` through the world point `centre`, with `highlight`'s outline drawn thick and
    /// every other label's outline thin, in the colours of `colors` (label → RGB); `fill` also tints the
    /// highlighted label's inside. Pictures are at most `maxSize` pixels wide or high.
    public func picture(_ view: ReportView, through centre: SIMD3<Double>, highlight: Int?, colors: [Int: [Int]],
                        fill: Bool, maxSize: Int = 320) -> ReportPicture {
        let axes = view.axes
        func extent(_ a: SIMD3<Double>) -> (Double, Double) {
            let values = [(low * a).sum(), (high * a).sum()]
            return (values.min() ?? 0, values.max() ?? 0)
        }
        let (c0, c1) = extent(axes.column), (r0, r1) = extent(axes.row)
        let step = max(pixel, max(c1 - c0, r1 - r0) / Double(maxSize))
        let width = max(1, Int(((c1 - c0) / step).rounded())), height = max(1, Int(((r1 - r0) / step).rounded()))
        let depth = (centre * axes.normal).sum()
        var grey = [UInt8](repeating: 0, count: width * height)
        var label = [UInt16](repeating: 0, count: width * height)
        let nx = grid.size.x, ny = grid.size.y, nz = grid.size.z
        for r in 0..<height {
            for c in 0..<width {
                let world = axes.column * (c0 + (Double(c) + 0.5) * step) + axes.row * (r0 + (Double(r) + 0.5) * step) + axes.normal * depth
                let p = inverse.apply(world)
                let i = Int(p.x.rounded()), j = Int(p.y.rounded()), k = Int(p.z.rounded())
                guard i >= 0, j >= 0, k >= 0, i < nx, j < ny, k < nz else { continue }
                let at = (k * ny + j) * nx + i
                grey[r * width + c] = window.grey(intensities[at])
                label[r * width + c] = labels[at]
            }
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for n in 0..<(width * height) { rgb[3 * n] = grey[n]; rgb[3 * n + 1] = grey[n]; rgb[3 * n + 2] = grey[n] }
        for r in 0..<height {
            for c in 0..<width {
                let n = r * width + c
                let l = Int(label[n])
                guard l != 0, let color = colors[l] else { continue }
                let edge = (c == 0 || Int(label[n - 1]) != l) || (c == width - 1 || Int(label[n + 1]) != l)
                    || (r == 0 || Int(label[n - width]) != l) || (r == height - 1 || Int(label[n + width]) != l)
                let isHighlight = highlight == nil || highlight == l
                if edge {
                    paint(&rgb, n, color, alpha: isHighlight ? 1 : 0.6)
                    if isHighlight {
                        // Thicker outline for the structure the picture is about: its inner neighbours too.
                        for m in [n - 1, n + 1, n - width, n + width] where m >= 0 && m < width * height && Int(label[m]) == l { paint(&rgb, m, color, alpha: 1) }
                    }
                } else if fill && isHighlight {
                    paint(&rgb, n, color, alpha: 0.35)
                }
            }
        }
        return ReportPicture(rgb: rgb, width: width, height: height, millimetresPerPixel: step, view: view)
    }

    func paint(_ rgb: inout [UInt8], _ n: Int, _ color: [Int], alpha: Double) {
        for ch in 0..<3 {
            let old = Double(rgb[3 * n + ch]), new = Double(min(255, max(0, color[ch])))
            rgb[3 * n + ch] = UInt8((old * (1 - alpha) + new * alpha).rounded())
        }
    }
}
