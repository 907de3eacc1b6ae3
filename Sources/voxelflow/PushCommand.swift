import ArgumentParser
import Foundation
import VoxelNet
import VoxelPipeline

struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send DICOM files (SEG, RTSTRUCT, overlay series…) to a PACS over DICOMweb (STOW-RS) or DIMSE (C-STORE).",
        discussion: """
        URL is the DICOMweb service root, or a DIMSE peer as dimse://PACS_AE@host:port (C-STORE, with \
        --calling-ae as our AE title). Each PATH is a DICOM file or a folder searched for DICOM files \
        (files that do not read as DICOM are reported and not sent). Over DICOMweb, files go in requests of at \
        most 32 MiB; over DIMSE, up to 500 files per association (uncompressed files in the little-endian \
        syntax the peer accepts, compressed ones in their own). A request that fails in a way that may pass is \
        retried with doubling waits; the PACS's answer for every instance (stored, stored with a warning, \
        failed with its reason) is printed and recorded.

        The record (--record, default OUT/pushed.jsonl when PATH is a `voxelflow run` output folder) lists \
        each instance sent, its SOP Instance UID, the destination and the answer. An instance the record says \
        this destination stored is not sent again, so pushing a run again after --resume sends only the new \
        results. Credentials never appear in output or records. Exit code 4 when an instance failed.
        """
    )

    @Argument(help: "The DICOMweb service root (http:// or https://), or a DIMSE peer as dimse://AE_TITLE@host:port.")
    var url: String

    @Option(name: .long, help: "Our AE title towards a DIMSE peer (default VOXELFLOW; the peer must accept it).")
    var callingAe = "VOXELFLOW"

    @Argument(help: "DICOM files or folders to send.")
    var paths: [String]

    @OptionGroup(title: "Connection")
    var connection: PACSOptions

    @Option(name: .long, help: "The push record to consult and extend (default: OUT/pushed.jsonl when PATH is one run output folder; else none).")
    var record: String?

    @OptionGroup(title: "Retries")
    var retry: RetryOptions

    @Flag(name: .shortAndLong, help: "Print only failures and the summary.")
    var quiet = false

    /// The DICOM candidates under `paths`: files as given, folders walked (hidden entries skipped), sorted.
    static func files(_ paths: [String]) throws -> [String] {
        let fm = FileManager.default
        var found: [String] = []
        for p in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDirectory) else { throw InputError(description: "\(p): no such file or folder") }
            guard isDirectory.boolValue else { found.append(p); continue }
            guard let walker = fm.enumerator(atPath: p) else { throw InputError(description: "\(p): cannot read the folder") }
            var inFolder: [String] = []
            while let rel = walker.nextObject() as? String {
                let name = (rel as NSString).lastPathComponent
                if name.hasPrefix(".") { walker.skipDescendants(); continue }
                var dir: ObjCBool = false
                let full = "\(p)/\(rel)"
                if fm.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue, name.lowercased().hasSuffix(".dcm") || !name.contains(".") {
                    inFolder.append(full)
                }
            }
            found += inFolder.sorted()
        }
        return found
    }

    func run() throws {
        let client: any InstanceDestination
        let files: [String]
        do {
            if url.lowercased().hasPrefix("dimse://") {
                client = try DIMSEClient(url: url, callingAETitle: callingAe)
            } else {
                client = try DICOMwebClient(root: url, options: try connection.httpOptions())
            }
            files = try PushCommand.files(paths)
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        guard !files.isEmpty else {
            printError("voxelflow: error: no DICOM file (.dcm, or a name without extension) under \(paths.joined(separator: ", "))")
            throw ExitCode(ExitCodes.badInput)
        }
        var recordPath = record
        if recordPath == nil, paths.count == 1, (try? BatchStatus.read(output: paths[0])) != nil {
            recordPath = "\(paths[0])/pushed.jsonl"
        }
        let log: PushLog?
        do {
            log = try recordPath.map { try PushLog(path: $0) }
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        let records = InstancePush.run(client, files: files, log: log, retries: retry.retries, backoff: retry.backoff)
        for r in records {
            switch r.status {
            case .failed: printError("voxelflow: \(r.file): not stored: \(r.reason ?? "")")
            case .warning: printError("voxelflow: warning: \(r.file): stored with a warning: \(r.reason ?? "")")
            case .stored: if !quiet { print("\(r.file): stored (\(r.sopInstanceUID ?? ""))") }
            case .skipped: if !quiet { print("\(r.file): already stored there by an earlier push") }
            }
        }
        let count = { (s: PushRecord.Status) in records.filter { $0.status == s }.count }
        print("\(records.count) file\(records.count == 1 ? "" : "s"): \(count(.stored)) stored, \(count(.warning)) stored with warnings, \(count(.skipped)) already there, \(count(.failed)) failed"
              + (recordPath.map { "; record: \($0)" } ?? ""))
        if count(.failed) > 0 { throw ExitCode(ExitCodes.casesFailed) }
    }
}
