import Dispatch
import Foundation
import VoxelCore

/// The result of scanning a folder tree for DICOM files.
public struct DICOMScan: Sendable {
    /// A file that could not be used, with the reason.
    public struct Rejected: Sendable, Codable, Equatable {
        /// The file.
        public var path: String
        /// Why it was set aside.
        public var reason: String
    }
    /// Image stacks, grouped by patient, study and series (in that order of sorting).
    public var stacks: [DICOMStack]
    /// DICOM objects without pixel data or not images (structured reports, RT structures, DICOMDIR…).
    public var nonImages: [Rejected]
    /// Files that are not DICOM or could not be parsed.
    public var unreadable: [Rejected]
    /// Number of files looked at.
    public var filesScanned: Int
}

/// Walks a folder tree, reads every file's header (never the pixel data) in parallel, and assembles
/// series. A file that is not DICOM or cannot be parsed is listed with its reason and never stops the scan.
public enum DICOMScanner {
    /// Scans `root` (a folder, or a single file). `threads` defaults to one per core.
    public static func scan(_ root: String, threads: Int = System.coreCount) throws -> DICOMScan {
        let files = try listFiles(root)
        let results = UnsafeMutableBufferPointer<Result<[DICOMSlice], DICOMError>?>.allocate(capacity: max(1, files.count))
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let shared = Gzip.Shared(results)
        let workers = max(1, min(threads, files.count))
        DispatchQueue.concurrentPerform(iterations: files.isEmpty ? 0 : workers) { w in
            var n = w
            while n < files.count {
                shared.value[n] = readSlices(files[n])
                n += workers
            }
        }
        var slices: [DICOMSlice] = []
        var nonImages: [DICOMScan.Rejected] = []
        var unreadable: [DICOMScan.Rejected] = []
        for (n, path) in files.enumerated() {
            switch results[n] {
            case .success(let s)?:
                if s.isEmpty { nonImages.append(.init(path: path, reason: "no image pixel data")) }
                slices += s
            case .failure(let e)?:
                unreadable.append(.init(path: path, reason: e.reason))
            case nil:
                unreadable.append(.init(path: path, reason: "not read"))
            }
        }
        var stacks = DICOMSeriesAssembler.stacks(from: slices)
        stacks.sort { a, b in
            let ha = a.header, hb = b.header
            return (ha.patientID, ha.studyDate, ha.studyInstanceUID, ha.seriesNumber ?? 0, ha.seriesInstanceUID, a.slices[0].path)
                < (hb.patientID, hb.studyDate, hb.studyInstanceUID, hb.seriesNumber ?? 0, hb.seriesInstanceUID, b.slices[0].path)
        }
        return DICOMScan(stacks: stacks, nonImages: nonImages, unreadable: unreadable, filesScanned: files.count)
    }

    /// Header-only read of one file into its slices ([] for DICOM objects that are not images).
    static func readSlices(_ path: String) -> Result<[DICOMSlice], DICOMError> {
        do {
            let file = try DICOMFile(path: path, headerOnly: true)
            let header = try DICOMHeader.read(file)
            // Without a meta header DCMTK guesses the encoding; demand real DICOM content before trusting it.
            if !header.hasMetaHeader && header.sopClassUID.isEmpty && !header.hasPixelAttributes {
                return .failure(DICOMError(path: path, reason: explain(path, "no DICOM attributes found")))
            }
            guard header.hasPixelAttributes, header.rows > 0, header.columns > 0 else { return .success([]) }
            if header.sopClassUID == "1.2.840.10008.5.1.4.1.1.66.4" { return .success([]) }  // segmentations are not scans
            return .success(DICOMSlice.slices(of: file, header: header))
        } catch let e as DICOMError {
            return .failure(DICOMError(path: path, reason: explain(path, e.reason)))
        } catch {
            return .failure(DICOMError(path: path, reason: String(describing: error)))
        }
    }

    /// A clearer reason for files DCMTK could not parse: empty, gzip-compressed, or no DICM marker.
    static func explain(_ path: String, _ reason: String) -> String {
        guard let size = try? FileIO.size(of: path) else { return reason }
        if size == 0 { return "empty file" }
        let head = (try? FileIO.read(path, offset: 0, count: 132, allowShort: true)) ?? []
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { return "gzip-compressed file: decompress it first (gunzip)" }
        if head.count < 132 || Array(head[128..<132]) != Array("DICM".utf8) {
            return "not a DICOM file (no DICM marker; DCMTK: \(reason))"
        }
        return reason
    }

    /// Regular files under `root` (or `root` itself), sorted, hidden files and folders skipped.
    static func listFiles(_ root: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw DICOMError(path: root, reason: "no such file or folder")
        }
        guard isDirectory.boolValue else { return [root] }
        guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: root),
                                                          includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw DICOMError(path: root, reason: "cannot list the folder")
        }
        var files: [String] = []
        for case let url as URL in walker {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                files.append(url.path)
            }
        }
        return files.sorted()
    }
}
