import ArgumentParser
import Foundation
import VoxelNet
import VoxelSupport

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Retrieve series from a PACS (DICOMweb QIDO-RS + WADO-RS, or DIMSE C-FIND + C-GET or C-MOVE) into a folder `run` reads.",
        discussion: """
        URL is the DICOMweb service root, e.g. https://pacs.example.org/dicom-web, or a DIMSE peer, \
        dimse://PACS_AE@pacs.example.org:104 (Study Root C-FIND at series level, then C-GET: the instances come \
        back on the same association, so no port needs to be open here; the PACS must accept --calling-ae). \
        For a PACS that refuses C-GET, --move-port N retrieves by C-MOVE instead: while a series is moved, a \
        storage SCP with AE title --move-ae (default --calling-ae) listens on port N, and the PACS must have that \
        AE title configured as this host and port. C-MOVE retrieves one series at a time. \
        The series matching the filters are retrieved in the transfer syntax the PACS stores into OUT/<StudyInstanceUID>/<SeriesInstanceUID>/, \
        each built in OUT/.partial and renamed into place when complete; OUT/pull.jsonl gets one line per \
        series (UIDs, modality, description, instances, bytes, seconds, attempts, error). Patient IDs and \
        accession numbers given as filters are sent to the PACS but never printed or recorded; credentials \
        never appear in output, records or errors.

        A series that fails (connection lost, PACS error) is retried with doubling waits (--retries, --backoff) \
        and then recorded as failed, with the reason; the others go on. --resume skips the series an earlier \
        pull into OUT completed, so a pull cut short by a network failure continues where it stopped. Then:
        voxelflow run PIPELINE --input OUT --output RESULTS.

        Authentication: --user with the password in --password-file or $VOXELFLOW_PACS_PASSWORD (basic), or a \
        bearer token in --token-file or $VOXELFLOW_PACS_TOKEN. TLS: the system's CAs, or --ca-file. \
        Exit code 4 when some series failed.
        """
    )

    @Argument(help: "The DICOMweb service root (http:// or https://), or a DIMSE peer as dimse://AE_TITLE@host:port.")
    var url: String

    @Option(name: .shortAndLong, help: "The folder to retrieve into (new, empty, or an earlier pull's).")
    var output: String

    @OptionGroup(title: "Series and connection")
    var source: PACSSourceOptions

    @Option(name: .shortAndLong, help: "Series retrieved at the same time (default 2).")
    var jobs = 2

    @OptionGroup(title: "Retries")
    var retry: RetryOptions

    @Flag(name: .long, help: "Skip the series an earlier pull into OUT completed.")
    var resume = false

    @Flag(name: .long, help: "Search and list the series; retrieve nothing.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Print only failures and the summary.")
    var quiet = false

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let query: SeriesQuery
        let client: any SeriesSource
        do {
            (client, query) = try source.client(url: url, parallel: jobs)
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }

        let series: [RemoteSeries]
        do {
            series = try client.searchSeries(query)
        } catch {
            printError("voxelflow: error: searching \(client.name): \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
        if series.isEmpty {
            printError("voxelflow: error: \(client.name): no series matches the filters")
            throw ExitCode(ExitCodes.badInput)
        }
        if dryRun {
            print("\(series.count) series match:")
            for s in series {
                print("  \(s.seriesUID)  \(s.modality ?? "?")  \(s.instances.map { "\($0) instances" } ?? "")  \(s.description ?? "")")
            }
            return
        }
        var pullOptions = PullOptions()
        pullOptions.jobs = jobs
        pullOptions.retries = retry.retries
        pullOptions.backoff = retry.backoff
        pullOptions.resume = resume
        let quiet = self.quiet
        let total = series.count
        let counter = ProgressCounter()
        let records: [PullRecord]
        do {
            records = try SeriesPull.run(client, series: series, output: output, options: pullOptions) { r in
                let n = counter.next()
                switch r.status {
                case .ok:
                    if !quiet { print("series \(r.series.seriesUID) ok: \(r.instances) instances, \(String(format: "%.1f", Double(r.bytes) / 1e6)) MB in \(String(format: "%.1f", r.seconds)) s [\(n)/\(total)]") }
                    if let w = r.warning { printError("voxelflow: warning: series \(r.series.seriesUID): \(w)") }
                case .failed:
                    printError("voxelflow: series \(r.series.seriesUID) failed after \(r.attempts) attempt\(r.attempts == 1 ? "" : "s"): \(r.error ?? "") [\(n)/\(total)]")
                case .skipped:
                    if !quiet { print("series \(r.series.seriesUID) already retrieved [\(n)/\(total)]") }
                }
            }
        } catch {
            printError("voxelflow: error: \(error)")
            throw ExitCode(ExitCodes.cannotWrite)
        }
        let failed = records.filter { $0.status == .failed }.count
        let ok = records.filter { $0.status == .ok }
        let bytes = ok.reduce(Int64(0)) { $0 + $1.bytes }
        print("\(records.count) series: \(ok.count) retrieved (\(ok.reduce(0) { $0 + $1.instances }) instances, \(String(format: "%.1f", Double(bytes) / 1e6)) MB), \(records.filter { $0.status == .skipped }.count) already there, \(failed) failed; record: \(output)/\(SeriesPull.recordName)")
        if failed > 0 {
            printError("voxelflow: \(failed) series failed; continue with --resume once the PACS answers again")
            throw ExitCode(ExitCodes.casesFailed)
        }
    }
}

/// Counts finished series for the progress lines.
private final class ProgressCounter: @unchecked Sendable {
    private var n = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
