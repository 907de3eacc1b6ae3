import CDCMTK
import Foundation

/// The index of DICOM media (CDs, DVDs, exports): a DICOMDIR file at the root of a folder tree, listing the
/// files below it by ReferencedFileID.
public enum DICOMDirectory {
    /// The DICOMDIR file directly inside `folder` (any case), or nil.
    public static func indexFile(in folder: String) -> String? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        guard let name = names.first(where: { $0.uppercased() == "DICOMDIR" }) else { return nil }
        let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
        return FileIdentity.isDirectory(path) ? nil : path
    }

    /// The files the DICOMDIR at `path` references, resolved against its folder: the exact path first, then
    /// a case-insensitive match per component (media written with upper-case IDs are often copied in lower
    /// case). `missing` holds the references that match no file. A reference leaving the folder (`..`) counts
    /// as missing.
    /// - Throws: `DICOMError` when the file cannot be read or is not a DICOMDIR.
    public static func referencedFiles(_ path: String) throws -> (found: [String], missing: [String]) {
        final class Collector { var ids: [String] = [] }
        let collector = Collector()
        var err = [CChar](repeating: 0, count: 512)
        let status = vf_dicomdir_files(path, { context, id, _ in
            guard let context, let id else { return }
            Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().ids.append(String(cString: id))
        }, Unmanaged.passUnretained(collector).toOpaque(), &err, err.count)
        guard status == 0 else { throw DICOMError(path: path, reason: DICOMFile.message(err)) }
        let root = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var listings: [String: [String]] = [:]
        func resolve(_ id: String) -> String? {
            let parts = id.split(separator: "/").map(String.init)
            guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
            let exact = root + "/" + parts.joined(separator: "/")
            if FileIdentity(path: exact) != nil, !FileIdentity.isDirectory(exact) { return exact }
            var folder = root
            for (n, part) in parts.enumerated() {
                if listings[folder] == nil { listings[folder] = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] }
                guard let match = listings[folder]?.first(where: { $0.uppercased() == part.uppercased() }) else { return nil }
                folder += "/" + match
                if n == parts.count - 1 { return FileIdentity.isDirectory(folder) ? nil : folder }
            }
            return nil
        }
        var found: [String] = [], missing: [String] = []
        var seen = Set<String>()
        for id in collector.ids {
            if let p = resolve(id) {
                if seen.insert(p).inserted { found.append(p) }
            } else {
                missing.append(id)
            }
        }
        return (found.sorted(), missing)
    }
}
