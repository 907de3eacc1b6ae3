import CDCMTK

/// A DICOM file loaded into memory by DCMTK (owns the C handle; freed on deinit).
final class DICOMFile {
    let handle: OpaquePointer
    let path: String

    /// Loads the whole file.
    init(path: String) throws {
        var err = [CChar](repeating: 0, count: 512)
        guard let h = vf_dicom_open(path, &err, err.count) else {
            throw DICOMError(path: path, reason: DICOMFile.message(err))
        }
        handle = h
        self.path = path
    }

    deinit { vf_dicom_close(handle) }

    static func message(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
