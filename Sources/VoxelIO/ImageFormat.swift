import Foundation

/// The file formats VoxelFlow recognises.
public enum ImageFormat: String, Sendable, Codable {
    case nifti
    case dicom
    /// A directory (treated as a DICOM archive).
    case folder
    case unknown

    /// Decides the format of `path` from its extension, then from its first bytes
    /// (`DICM` at byte 128 for DICOM Part 10 files).
    public static func detect(_ path: String) -> ImageFormat {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return .folder }
        if NIfTILayout.matches(path) { return .nifti }
        let lower = path.lowercased()
        if lower.hasSuffix(".dcm") || lower.hasSuffix(".dicom") { return .dicom }
        if let head = try? FileIO.read(path, offset: 128, count: 4, allowShort: true), head == Array("DICM".utf8) {
            return .dicom
        }
        return .unknown
    }
}
