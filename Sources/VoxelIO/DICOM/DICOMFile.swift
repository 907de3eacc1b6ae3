import CDCMTK

/// A DICOM file loaded into memory by DCMTK (owns the C handle; freed on deinit).
final class DICOMFile {
    let handle: OpaquePointer
    let path: String

    /// Loads the whole file, or only its header (up to the pixel data) when `headerOnly`.
    init(path: String, headerOnly: Bool = false) throws {
        var err = [CChar](repeating: 0, count: 512)
        guard let h = vf_dicom_open(path, headerOnly ? 1 : 0, &err, err.count) else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        handle = h
        self.path = path
    }

    deinit { vf_dicom_close(handle) }

    /// Geometry and rescale of frame `frame` from the functional groups; nil for files without them.
    func frameGeometry(_ frame: Int) -> vf_frame_geometry? {
        var g = vf_frame_geometry()
        return vf_dicom_frame_geometry(handle, UInt32(frame), &g) == 0 ? g : nil
    }

    static func message(_ chars: [CChar]) -> String {
        explained(String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// DCMTK's condition texts that mean something a user can act on, in plain words; DCMTK's own text
    /// stays in brackets as detail.
    static let plainWords: [(dcmtk: String, plain: String)] = [
        ("I/O suspension or premature end of stream", "the file ends before its data does (truncated or cut short)"),
        ("Invalid stream", "the file's structure is damaged"),
        ("Parse error", "the file's structure is damaged"),
        ("No such file or directory", "no such file"),
        ("Permission denied", "permission denied"),
        ("Illegal call, perhaps wrong parameters", "the file's structure is damaged"),
        ("Unknown Tag and Length", "an attribute has an invalid length"),
    ]

    /// `text` with a known DCMTK condition put in plain words.
    static func explained(_ text: String) -> String {
        for (dcmtk, plain) in plainWords where text.contains(dcmtk) && !text.contains("[DCMTK:") {
            return "\(plain) [DCMTK: \(text)]"
        }
        return text
    }
}
