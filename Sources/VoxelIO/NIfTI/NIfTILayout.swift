/// Which files make up a NIfTI dataset and how they are stored, decided from the path's extension.
struct NIfTILayout: Equatable {
    /// The file holding the header.
    var headerPath: String
    /// The file holding the voxels (the same file for `.nii`).
    var dataPath: String
    /// True when header and voxels are separate files.
    var isPair: Bool
    /// True when the path ends in `.gz` (writing); reading sniffs the bytes instead.
    var compressed: Bool

    /// Resolves `path` into its layout.
    /// - Throws: `.unsupportedExtension` for anything but `.nii`, `.nii.gz`, `.hdr`, `.img` (optionally `.gz`).
    init(path: String) throws {
        let lower = path.lowercased()
        let gz = lower.hasSuffix(".gz")
        let stem = gz ? String(path.dropLast(3)) : path
        let stemLower = stem.lowercased()
        compressed = gz
        if stemLower.hasSuffix(".nii") {
            headerPath = path
            dataPath = path
            isPair = false
        } else if stemLower.hasSuffix(".hdr") || stemLower.hasSuffix(".img") {
            let base = String(stem.dropLast(4))
            let hdrExt = stemLower.hasSuffix(".hdr") ? String(stem.suffix(4)) : (stem.suffix(4) == ".IMG" ? ".HDR" : ".hdr")
            let imgExt = stemLower.hasSuffix(".img") ? String(stem.suffix(4)) : (stem.suffix(4) == ".HDR" ? ".IMG" : ".img")
            let suffix = gz ? String(path.suffix(3)) : ""
            headerPath = base + hdrExt + suffix
            dataPath = base + imgExt + suffix
            isPair = true
        } else {
            let dot = path.lastIndex(of: ".").map { String(path[$0...]) } ?? "(none)"
            throw NIfTIError(path: path, kind: .unsupportedExtension(dot))
        }
    }

    /// True when `path` looks like a NIfTI dataset by its extension.
    static func matches(_ path: String) -> Bool {
        (try? NIfTILayout(path: path)) != nil
    }
}
