import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List the DICOM series in a folder tree (headers only, in parallel).",
        discussion: """
        Walks ARCHIVE (or reads the files a DICOMDIR at its top lists; --walk walks anyway), reads every \
        file's header (never its pixel data), and groups images into \
        patient > study > series > stack. A stack is what becomes one volume: slices of one series with the \
        same orientation, size, echo and temporal position, sorted by position along the slice normal. \
        Problems (duplicate or missing slices, uneven spacing, gantry tilt) are listed per stack. Files \
        that are not DICOM or cannot be parsed are listed with the reason; they never stop the scan. \
        The table shows PatientID; use --json for every field.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "A folder (or a single file) to scan.")
    var archive: String

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .long, help: "Threads reading headers (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "An index file kept between scans: unchanged files (same size, modification time and inode) are not read again. Created when absent; it holds PatientIDs, keep it with the archive.")
    var cache: String?

    @Flag(name: .long, help: "Walk the folder tree even when a DICOMDIR index is at its top.")
    var walk = false

    func run() throws {
        do {
            let scan: DICOMScan
            if let cache {
                var index = try DICOMScanCache.load(cache)
                if let why = index.ignoredBecause { printError("voxelflow: \(cache): not used (\(why)); every file is read and the cache rebuilt") }
                scan = try DICOMScanner.scan(archive, threads: threads ?? ComputeBudget.threads, useIndex: !walk, cache: &index)
                try index.save(cache)
                printError("voxelflow: \(index.misses) file(s) read, \(index.hits) unchanged taken from \(cache)")
            } else {
                scan = try DICOMScanner.scan(archive, threads: threads ?? ComputeBudget.threads, useIndex: !walk)
            }
            if let note = scan.index {
                printError("voxelflow: \(note)")
            }
            let report = ScanReport(scan)
            if json {
                print(try JSONValueEncoder.encode(report).serialized())
            } else {
                print(report.table())
            }
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}

/// What `scan` reports, also the JSON layout of `scan --json`.
struct ScanReport: Codable {
    struct Stack: Codable {
        var index: Int
        var patientID: String
        var studyDate: String
        var studyInstanceUID: String
        var seriesInstanceUID: String
        var seriesNumber: Int?
        var seriesDescription: String
        var modality: String
        var dimensions: [Int]
        var spacing: [Double]
        var orientation: String
        var transferSyntax: String
        var files: Int
        var problems: [String]
        var convertible: Bool
    }
    var filesScanned: Int
    /// How a DICOMDIR at the top was used, when there was one.
    var index: String?
    var stacks: [Stack]
    var nonImages: [DICOMScan.Rejected]
    var unreadable: [DICOMScan.Rejected]

    init(_ scan: DICOMScan) {
        filesScanned = scan.filesScanned
        index = scan.index
        nonImages = scan.nonImages
        unreadable = scan.unreadable
        stacks = scan.stacks.enumerated().map { n, s in
            let h = s.header
            let g = s.geometry()
            return Stack(index: n + 1, patientID: h.patientID, studyDate: h.studyDate, studyInstanceUID: h.studyInstanceUID,
                         seriesInstanceUID: h.seriesInstanceUID, seriesNumber: h.seriesNumber,
                         seriesDescription: h.seriesDescription, modality: h.modality,
                         dimensions: [g.size.x, g.size.y, g.size.z] + (s.volumeCount > 1 ? [s.volumeCount] : []),
                         spacing: [g.spacing.x, g.spacing.y, g.spacing.z],
                         orientation: g.orientationCode, transferSyntax: h.transferSyntaxName,
                         files: s.files.count, problems: s.problems, convertible: s.isRegular)
        }
    }

    func table() -> String {
        var lines = ["\(filesScanned) files: \(stacks.count) image stack(s), \(nonImages.count) non-image object(s), \(unreadable.count) unreadable file(s)"]
        if !stacks.isEmpty {
            lines.append("")
            let header = ["#", "patient", "date", "mod", "series", "description", "dims", "spacing (mm)", "orient", "transfer syntax"]
            var rows = [header]
            for s in stacks {
                rows.append(["\(s.index)", s.patientID, s.studyDate, s.modality, s.seriesNumber.map(String.init) ?? "-",
                             String(s.seriesDescription.prefix(32)), s.dimensions.map(String.init).joined(separator: "x"),
                             s.spacing.map { InfoText.number(($0 * 1000).rounded() / 1000) }.joined(separator: "x"),
                             s.orientation, s.transferSyntax])
            }
            let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows {
                lines.append(zip(r, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            for s in stacks {
                for p in s.problems { lines.append("  stack \(s.index): \(p)") }
                if !s.convertible { lines.append("  stack \(s.index): cannot be converted as is") }
            }
        }
        for r in nonImages { lines.append("non-image: \(r.path): \(r.reason)") }
        for r in unreadable { lines.append("unreadable: \(r.path): \(r.reason)") }
        return lines.joined(separator: "\n")
    }
}
