import CDCMTK
import Foundation
import VoxelCore
import VoxelSupport

/// A Secondary Capture series for PACS that cannot show DICOM SEG: a copy of every slice of the source
/// series, windowed to 8-bit grey, with each label's outline burned in its colour and a legend in the
/// top-left corner (a colour swatch and the label's value per label; the names are in ImageComments and in
/// the series description). Each image references the source image it copies and carries its position,
/// orientation and pixel spacing, so that it lines up with the source slice.
public enum DICOMOverlaySeries {
    /// Writes the overlay series of `labels` (on the grid of `reference`) into the folder `path` (created; it
    /// must not exist): one file per slice, `SC0001.dcm`, `SC0002.dcm`, … The folder appears atomically.
    /// `window` is (level, width) in the series' physical units.
    /// - Returns: the number of images written.
    /// - Throws: `DICOMSeriesError` when the labels are not on the series' grid; `DICOMError` or
    ///   `FileIOError` when an image cannot be written.
    @discardableResult
    public static func write(_ labels: LabelMap, reference stack: DICOMStack, table: LabelTable? = nil, window: (level: Double, width: Double),
                             to path: String, seriesNumber: Int = 302) throws -> Int {
        try DICOMSegmentation.checkGrid(labels.geometry, stack: stack)
        let volume = try stack.volume()
        let g = volume.geometry
        let nx = g.size.x, ny = g.size.y, frameSize = nx * ny
        let present = labels.labelsPresent().filter { $0 > 0 }
        let table = table ?? LabelTable.generic(present)
        var colors: [Int: [UInt8]] = [:]
        for v in present { colors[v] = (table[v]?.color ?? LabelInfo.defaultColor(v)).map { UInt8(clamping: $0) } }
        let legend = present.map { "\($0) = \(table[$0]?.name ?? "Label \($0)")" }.joined(separator: ", ")
        var uid = [CChar](repeating: 0, count: 80)
        vf_new_uid(&uid, uid.count)
        let seriesUID = DICOMFile.message(uid)
        let description = "VoxelFlow overlay: " + legend

        let fm = FileManager.default
        guard !fm.fileExists(atPath: path) else { throw FileIOError(path: path, operation: .open, reason: "already exists") }
        let temporary = FileIO.temporaryName(for: path)
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw FileIOError(path: temporary, operation: .open, reason: "cannot create the folder: \(FileSystemMessage.describe(error))")
        }
        let intensities = volume.physicalFloats()
        let values = labels.volume.voxels
        var err = [CChar](repeating: 0, count: 512)
        do {
            for k in 0..<g.size.z {
                var rgb = [UInt8](repeating: 0, count: frameSize * 3)
                let base = k * frameSize
                for i in 0..<frameSize {
                    let t = (Double(intensities[base + i]) - (window.level - window.width / 2)) / window.width
                    let grey = UInt8((min(1, max(0, t)) * 255).rounded())
                    rgb[3 * i] = grey; rgb[3 * i + 1] = grey; rgb[3 * i + 2] = grey
                }
                for j in 0..<ny {
                    for i in 0..<nx {
                        let l = Int(values.value(at: base + j * nx + i))
                        guard l != 0, let c = colors[l] else { continue }
                        func other(_ a: Int, _ b: Int) -> Bool {
                            a < 0 || b < 0 || a >= nx || b >= ny || Int(values.value(at: base + b * nx + a)) != l
                        }
                        if other(i - 1, j) || other(i + 1, j) || other(i, j - 1) || other(i, j + 1) {
                            let at = 3 * (j * nx + i)
                            rgb[at] = c[0]; rgb[at + 1] = c[1]; rgb[at + 2] = c[2]
                        }
                    }
                }
                drawLegend(&rgb, width: nx, height: ny, entries: present.map { ($0, colors[$0] ?? [255, 255, 255]) })
                let slice = stack.slices[k]
                let position = slice.position.map { [$0.x, $0.y, $0.z].map(DecimalString.format).joined(separator: "\\") } ?? ""
                let orientation = (slice.orientation ?? []).map(DecimalString.format).joined(separator: "\\")
                let spacing = (slice.pixelSpacing ?? []).map(DecimalString.format).joined(separator: "\\")
                let file = "\(temporary)/SC\(String(format: "%04d", k + 1)).dcm"
                // C strings for the attributes, freed after the write.
                let strings = [seriesUID, description, legend, slice.header.sopClassUID, slice.header.sopInstanceUID, position, orientation, spacing].map { s in s.withCString { strdup($0) } }
                defer { for p in strings { free(p) } }
                let c = strings.map { $0.map { UnsafePointer<CChar>($0) } }
                var a = vf_sc_attributes(series_uid: c[0], series_number: Int32(seriesNumber), instance_number: Int32(k + 1),
                                         series_description: c[1], comments: c[2], source_class: c[3], source_instance: c[4],
                                         source_frame: slice.header.numberOfFrames > 1 ? Int32(slice.frame + 1) : 0,
                                         position: c[5], orientation: c[6], pixel_spacing: c[7], rows: UInt16(ny), columns: UInt16(nx))
                let status = rgb.withUnsafeBufferPointer { vf_sc_write(slice.path, file, &a, $0.baseAddress, &err, err.count) }
                guard status == 0 else { throw DICOMError(path: file, reason: "cannot write the overlay image: \(DICOMFile.message(err))") }
            }
            guard rename(temporary, path) == 0 else { throw FileIOError(path: path, operation: .rename, reason: String(cString: strerror(errno))) }
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw error
        }
        return g.size.z
    }

    /// Digits 0–9 in a 3 × 5 pixel font, one row per 3 bits (most significant bit left).
    static let digits: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Draws, from the top-left corner down, a swatch and the value of each label (at most as many as fit),
    /// on a black band so that it reads on any image. Digits are 3 × 5 pixels scaled by 2.
    static func drawLegend(_ rgb: inout [UInt8], width: Int, height: Int, entries: [(Int, [UInt8])]) {
        let scale = 2, line = 7 * scale, margin = 2
        func set(_ x: Int, _ y: Int, _ c: [UInt8]) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let at = 3 * (y * width + x)
            rgb[at] = c[0]; rgb[at + 1] = c[1]; rgb[at + 2] = c[2]
        }
        for (n, entry) in entries.enumerated() {
            let top = margin + n * line
            guard top + line <= height else { break }
            let text = String(entry.0)
            let bandWidth = 5 * scale + 2 + text.count * 4 * scale + 2
            for y in top..<(top + line) { for x in margin..<(margin + bandWidth) { set(x, y, [0, 0, 0]) } }
            for y in (top + scale)..<(top + 6 * scale) { for x in (margin + 1)..<(margin + 1 + 4 * scale) { set(x, y, entry.1) } }
            var x0 = margin + 5 * scale + 2
            for ch in text {
                guard let d = ch.wholeNumberValue else { continue }
                for (r, bits) in digits[d].enumerated() {
                    for c in 0..<3 where bits & (4 >> c) != 0 {
                        for dy in 0..<scale { for dx in 0..<scale { set(x0 + c * scale + dx, top + scale + r * scale + dy, [255, 255, 255]) } }
                    }
                }
                x0 += 4 * scale
            }
        }
    }
}
