import Foundation

/// pydicom's decoding of one corpus DICOM file (refs/pixels.tsv in the shared corpus).
public struct PixelReference: Sendable, CustomStringConvertible {
    /// Path relative to the corpus root.
    public var path: String
    /// "RxC", "FxRxC", "RxCx3", … or nil for files pydicom could not decode (malformed on purpose).
    public var shape: String?
    public var dtype: String?
    public var sha256: String?
    public var min: Double?
    public var max: Double?
    public var mean: Double?

    public var description: String { path }

    /// All rows of refs/pixels.tsv, or [] when the corpus is absent.
    public static func all() -> [PixelReference] {
        guard let text = try? String(contentsOfFile: TestPaths.sharedData + "/refs/pixels.tsv", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7 else { return nil }
            let ok = f[1] != "-"
            return PixelReference(path: f[0], shape: ok ? f[1] : nil, dtype: ok ? f[2] : nil, sha256: ok ? f[3] : nil,
                                  min: Double(f[4]), max: Double(f[5]), mean: Double(f[6]))
        }
    }
}
