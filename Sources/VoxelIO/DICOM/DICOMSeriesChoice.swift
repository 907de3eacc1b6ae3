/// Picks the one image stack a command works on from a scanned folder: the series of a given file, a stack
/// number (as `voxelflow scan` numbers them, from 1) or a SeriesInstanceUID.
public enum DICOMSeriesChoice {
    /// Why no single stack could be chosen.
    public enum Problem: Error, CustomStringConvertible, Sendable {
        /// The file given is a DICOM object that is not an image (a SEG, RTSTRUCT, SR…), named.
        case notAnImage(path: String, kind: String)
        /// The file given could not be used, with the reason.
        case unreadable(path: String, reason: String)
        /// No stack matched; `scanned` files were looked at, `unreadable` of them could not be used.
        case noImageSeries(place: String, selector: String?, scanned: Int, unreadable: [DICOMScan.Rejected], nonImages: [DICOMScan.Rejected])
        /// Several stacks matched; the choices as (number, label, SeriesInstanceUID).
        case ambiguous(place: String, choices: [(number: Int, label: String, uid: String)])

        public var description: String {
            switch self {
            case .notAnImage(let path, let kind):
                let hint = kind.contains("DICOM SEG") ? "; `voxelflow convert \(path) OUT.nii.gz [--reference SERIES]` turns it into a label map"
                    : kind.contains("RTSTRUCT") ? "; `voxelflow convert \(path) OUT.nii.gz --reference SERIES` turns it into a label map" : ""
                return "\(path): is a \(kind), not an image series\(hint)"
            case .unreadable(let path, let reason):
                return "\(path): \(reason)"
            case .noImageSeries(let place, let selector, let scanned, let unreadable, let nonImages):
                var text = "\(place): no image series\(selector.map { " matching --series \($0)" } ?? "") found (\(scanned) files scanned, \(unreadable.count) unreadable, \(nonImages.count) non-image)"
                for r in unreadable.prefix(5) { text += "\n  unreadable: \(r.path): \(r.reason)" }
                for r in nonImages.prefix(5) { text += "\n  non-image: \(r.path): \(r.reason)" }
                return text
            case .ambiguous(let place, let choices):
                var lines = ["\(place): \(choices.count) series found; choose one with --series:"]
                for c in choices { lines.append("  --series \(c.number)    \(c.label)  [\(c.uid)]") }
                return lines.joined(separator: "\n")
            }
        }
    }

    /// The one stack a user named: `path` is a folder (its series; `selector` picks one of several) or one
    /// DICOM file (its series, gathered from the files beside it).
    /// - Throws: `Problem`, or `DICOMError` when the folder cannot be scanned.
    public static func load(_ path: String, selector: String?) throws -> DICOMStack {
        let isFile = ImageFormat.detect(path) == .dicom
        let folder = isFile ? (path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : ".") : path
        let scan = try DICOMScanner.scan(folder)
        return try select(from: scan, place: path, file: isFile ? path : nil, selector: selector)
    }

    /// The single stack of `scan` that `file` (when given) belongs to and `selector` (when given) names.
    /// - Parameters:
    ///   - place: the folder or file the user named, for messages.
    ///   - file: a file whose series is wanted, or nil for the whole folder.
    ///   - selector: a stack number (1-based, in `scan` order) or a SeriesInstanceUID.
    /// - Throws: `Problem`.
    public static func select(from scan: DICOMScan, place: String, file: String?, selector: String?) throws -> DICOMStack {
        var candidates = Array(scan.stacks.enumerated())
        if let file {
            if let r = scan.nonImages.first(where: { $0.path == file || FileIdentity(path: $0.path) == FileIdentity(path: file) }) {
                throw Problem.notAnImage(path: file, kind: r.reason)
            }
            if let r = scan.unreadable.first(where: { $0.path == file || FileIdentity(path: $0.path) == FileIdentity(path: file) }) {
                throw Problem.unreadable(path: file, reason: r.reason)
            }
            let identity = FileIdentity(path: file)
            candidates = candidates.filter { $0.element.allSlices.contains { s in s.path == file || FileIdentity(path: s.path) == identity } }
        }
        if let selector {
            candidates = candidates.filter { "\($0.offset + 1)" == selector || $0.element.header.seriesInstanceUID == selector }
        }
        guard let chosen = candidates.first else {
            throw Problem.noImageSeries(place: place, selector: selector, scanned: scan.filesScanned, unreadable: scan.unreadable, nonImages: scan.nonImages)
        }
        guard candidates.count == 1 else {
            throw Problem.ambiguous(place: place, choices: candidates.map { ($0.offset + 1, $0.element.label, $0.element.header.seriesInstanceUID) })
        }
        return chosen.element
    }
}
