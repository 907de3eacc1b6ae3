import Dispatch
import Foundation
import VoxelCore
#if canImport(Glibc)
import Glibc
#endif
import VoxelSupport

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
    /// How the files were found when a DICOMDIR was present: read from the index, or why the folder was
    /// walked instead. nil when there was no DICOMDIR.
    public var index: String? = nil
}

/// Walks a folder tree, reads every file's header (never the pixel data) in parallel, and assembles
/// series. A file that is not DICOM or cannot be parsed is listed with its reason and never stops the scan.
public enum DICOMScanner {
    /// Scans `root` (a folder, or a single file). `threads` defaults to one per core.
    /// When `root` is a folder with a DICOMDIR directly inside and `useIndex` is true, the files it references
    /// are scanned instead of walking the tree (files the index does not list are then not seen); when any
    /// reference matches no file, or the index cannot be read, the tree is walked (`DICOMScan.index` says which).
    public static func scan(_ root: String, threads: Int = ComputeBudget.threads, useIndex: Bool = true) throws -> DICOMScan {
        var cache: DICOMScanCache?
        return try scan(root, threads: threads, useIndex: useIndex, cache: &cache)
    }

    /// Scans `root`, taking unchanged files from `cache` (their headers are not read again) and recording
    /// every file read in it; files no longer under `root` are dropped from the cache.
    public static func scan(_ root: String, threads: Int = ComputeBudget.threads, useIndex: Bool = true,
                            cache: inout DICOMScanCache) throws -> DICOMScan {
        var optional: DICOMScanCache? = cache
        defer { if let updated = optional { cache = updated } }
        return try scan(root, threads: threads, useIndex: useIndex, cache: &optional)
    }

    static func scan(_ root: String, threads: Int, useIndex: Bool, cache: inout DICOMScanCache?) throws -> DICOMScan {
        let files: [String]
        var index: String?
        if FileIdentity.isDirectory(root), let dicomdir = DICOMDirectory.indexFile(in: root) {
            do {
                let listed = try DICOMDirectory.referencedFiles(dicomdir)
                if !useIndex {
                    index = "\(dicomdir) not used (asked to walk the folder)"
                    files = try listFiles(root)
                } else if listed.missing.isEmpty && !listed.found.isEmpty {
                    index = "files from the index \(dicomdir) (\(listed.found.count) referenced)"
                    files = listed.found
                } else {
                    let why = listed.found.isEmpty && listed.missing.isEmpty ? "references no file" :
                        "references \(listed.missing.count) file(s) that are missing, e.g. \(listed.missing.prefix(3).joined(separator: ", "))"
                    index = "\(dicomdir) \(why); walked the folder instead"
                    files = try listFiles(root)
                }
            } catch let e as DICOMError {
                index = "\(dicomdir) unreadable (\(e.reason)); walked the folder instead"
                files = try listFiles(root)
            }
        } else {
            files = try listFiles(root)
        }
        let results = UnsafeMutableBufferPointer<FileContentResult?>.allocate(capacity: max(1, files.count))
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        // Unchanged files come from the cache; only the others are read.
        var stamps: [DICOMScanCache.Stamp?] = []
        var toRead: [Int] = []
        if let known = cache {
            stamps = files.map { DICOMScanCache.stamp($0) }
            for n in files.indices {
                if let hit = known.lookup(files[n], stamp: stamps[n]) { results[n] = hit } else { toRead.append(n) }
            }
        } else {
            toRead = Array(files.indices)
        }
        let shared = Shared(results)
        let pending = toRead
        let listed = files
        let workers = max(1, min(threads, pending.count))
        Parallel.perform(pending.isEmpty ? 0 : workers) { w in
            var n = w
            while n < pending.count {
                shared.value[pending[n]] = readSlices(listed[pending[n]])
                n += workers
            }
        }
        if var updated = cache {
            for n in toRead { if let r = results[n] { updated.record(files[n], stamp: stamps[n], r) } }
            updated.keepOnly(files)
            updated.hits = files.count - toRead.count
            updated.misses = toRead.count
            cache = updated
        }
        var slices: [DICOMSlice] = []
        var nonImages: [DICOMScan.Rejected] = []
        var unreadable: [DICOMScan.Rejected] = []
        for (n, path) in files.enumerated() {
            switch results[n] {
            case .success(.slices(let s))?:
                slices += s
            case .success(.nonImage(let kind))?:
                nonImages.append(.init(path: path, reason: kind))
            case .failure(let e)?:
                unreadable.append(.init(path: path, reason: e.reason))
            case nil:
                unreadable.append(.init(path: path, reason: "not read"))
            }
        }
        var stacks = DICOMSeriesAssembler.stacks(from: slices)
        explainGaps(&stacks, unreadable: unreadable)
        stacks.sort { a, b in
            let ha = a.header, hb = b.header
            return (ha.patientID, ha.studyDate, ha.studyInstanceUID, ha.seriesNumber ?? 0, ha.seriesInstanceUID, a.slices[0].path)
                < (hb.patientID, hb.studyDate, hb.studyInstanceUID, hb.seriesNumber ?? 0, hb.seriesInstanceUID, b.slices[0].path)
        }
        return DICOMScan(stacks: stacks, nonImages: nonImages, unreadable: unreadable, filesScanned: files.count, index: index)
    }

    /// What one file holds: image slices, or a DICOM object that is not an image (with its kind).
    enum FileContent {
        case slices([DICOMSlice])
        case nonImage(String)
    }

    /// The result of reading one file.
    typealias FileContentResult = Result<FileContent, DICOMError>

    /// Header-only read of one file into its slices, or the kind of non-image object it is.
    static func readSlices(_ path: String) -> Result<FileContent, DICOMError> {
        do {
            let file = try DICOMFile(path: path, headerOnly: true)
            let header = try DICOMHeader.read(file)
            // Without a meta header DCMTK guesses the encoding; demand real DICOM content before trusting it.
            if !header.hasMetaHeader && header.sopClassUID.isEmpty && !header.hasPixelAttributes {
                return .failure(DICOMError(path: path, reason: explain(path, "no DICOM attributes found")))
            }
            if let name = DICOMSOPClass.nonImageName(header.sopClassUID) { return .success(.nonImage(name)) }
            guard header.hasPixelAttributes, header.rows > 0, header.columns > 0 else { return .success(.nonImage("no image pixel data")) }
            if let problem = header.valueProblem {
                return .failure(DICOMError(path: path, reason: problem))
            }
            let slices = DICOMSlice.slices(of: file, header: header)
            if let problem = slices.lazy.compactMap(\.valueProblem).first {
                return .failure(DICOMError(path: path, reason: problem))
            }
            return .success(.slices(slices))
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
    ///
    /// Symbolic links are followed, to files and to folders (git-annex and DataLad archives are made of
    /// them); each folder is entered once, by its device and inode, so a link loop ends. A link that leads
    /// nowhere is skipped. Paths are reported as found under `root` (the link's path, not its target).
    public static func listFiles(_ root: String) throws -> [String] {
        guard let rootIdentity = FileIdentity(path: root) else {
            throw DICOMError(path: root, reason: "no such file or folder")
        }
        var st = stat()
        guard stat(root, &st) == 0 else { throw DICOMError(path: root, reason: "no such file or folder") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [root] }
        var files: [String] = []
        var visited: Set<FileIdentity> = [rootIdentity]
        var pending = [root]
        while let folder = pending.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
                if folder == root { throw DICOMError(path: root, reason: "cannot list the folder") }
                continue
            }
            for name in names where !name.hasPrefix(".") {
                let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                var entry = stat()
                guard stat(path, &entry) == 0 else { continue }  // a dangling link
                switch entry.st_mode & S_IFMT {
                case S_IFREG:
                    files.append(path)
                case S_IFDIR:
                    if let id = FileIdentity(path: path), visited.insert(id).inserted { pending.append(path) }
                default:
                    break
                }
            }
        }
        return files.sorted()
    }

    /// For stacks with missing slices, names the unreadable files of the same folder (an empty or truncated
    /// file is the usual cause of a gap).
    static func explainGaps(_ stacks: inout [DICOMStack], unreadable: [DICOMScan.Rejected]) {
        guard !unreadable.isEmpty else { return }
        func folder(_ p: String) -> String { p.lastIndex(of: "/").map { String(p[..<$0]) } ?? "." }
        let byFolder = Dictionary(grouping: unreadable, by: { folder($0.path) })
        for n in stacks.indices where stacks[n].problems.contains(where: { $0.contains("missing slice") }) {
            let folders = Set(stacks[n].slices.map { folder($0.path) })
            let suspects = folders.sorted().flatMap { byFolder[$0] ?? [] }
            guard !suspects.isEmpty else { continue }
            let names = suspects.prefix(5).map { "\($0.path) (\($0.reason))" }.joined(separator: ", ")
            let note = "the gap may come from unreadable file(s) beside the series: \(names)"
            stacks[n].problems.append(note)
            if let why = stacks[n].irregularity { stacks[n].irregularity = why + "; " + note }
        }
    }
}
