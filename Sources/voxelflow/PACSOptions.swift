import ArgumentParser
import Foundation
import VoxelNet

/// The connection options every command that talks to a PACS over DICOMweb takes.
struct PACSOptions: ParsableArguments {
    @Option(name: .long, help: "User name for HTTP basic authentication (the password from --password-file or $VOXELFLOW_PACS_PASSWORD).")
    var user: String?

    @Option(name: .long, help: "A file whose first line is the password for --user.")
    var passwordFile: String?

    @Option(name: .long, help: "A file whose first line is a bearer token (else $VOXELFLOW_PACS_TOKEN when set).")
    var tokenFile: String?

    @Option(name: .long, help: "A PEM file of certificate authorities to trust instead of the system's.")
    var caFile: String?

    @Option(name: .long, help: "Receive at most this many bytes per second in all (e.g. 20M), to spare a clinical PACS.")
    var maxRate: String?

    func validate() throws {
        if let maxRate, PACSOptions.parseRate(maxRate) == nil { throw ValidationError("--max-rate \(maxRate): give bytes per second, e.g. 500K, 20M") }
        if user != nil && tokenFile != nil { throw ValidationError("--user and --token-file contradict each other: choose one authentication") }
        if passwordFile != nil && user == nil { throw ValidationError("--password-file needs --user") }
    }

    /// `20M` → 20,000,000 bytes per second (K, M, G are powers of 1000).
    static func parseRate(_ text: String) -> Int64? {
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9]
        var t = text.uppercased()
        var factor = 1.0
        if let last = t.last, let f = units[last] { factor = f; t.removeLast() }
        guard let v = Double(t), v > 0, v * factor < 1e15 else { return nil }
        return Int64(v * factor)
    }

    /// The first line of a file (a password or token), naming the file when it cannot be read.
    static func secret(_ path: String, _ what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(description: "\(path): cannot read the \(what) file") }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !line.isEmpty else { throw InputError(description: "\(path): the \(what) file is empty") }
        return line
    }

    /// The HTTP options these arguments describe; the rate is shared by `parallel` transfers.
    /// - Throws: `InputError` for unreadable secret files or a user without a password.
    func httpOptions(parallel: Int = 1) throws -> HTTPOptions {
        var options = HTTPOptions()
        options.caFile = caFile
        let env = ProcessInfo.processInfo.environment
        if let user {
            let password = try passwordFile.map { try PACSOptions.secret($0, "password") } ?? env["VOXELFLOW_PACS_PASSWORD"]
            guard let password else { throw InputError(description: "--user \(user): give the password in --password-file or $VOXELFLOW_PACS_PASSWORD") }
            options.credentials = .basic(user: user, password: password)
        } else if let tokenFile {
            options.credentials = .bearer(token: try PACSOptions.secret(tokenFile, "token"))
        } else if let token = env["VOXELFLOW_PACS_TOKEN"], !token.isEmpty {
            options.credentials = .bearer(token: token)
        }
        if let maxRate, let rate = PACSOptions.parseRate(maxRate) { options.maxReceiveRate = max(1, rate / Int64(max(1, parallel))) }
        return options
    }
}

/// How a command that talks to a PACS retries failures that may pass (broken connections, 5xx answers).
struct RetryOptions: ParsableArguments {
    @Option(name: .long, help: "Retries for failures that may pass (default 3).")
    var retries = 3

    @Option(name: .long, help: "Seconds before the first retry, doubled for each next one (default 1).")
    var backoff = 1.0

    func validate() throws {
        if retries < 0 { throw ValidationError("--retries must be 0 or more") }
        if !(backoff >= 0) { throw ValidationError("--backoff must be 0 or more seconds") }
    }
}

/// Which series to take from a PACS and how to reach it: what `pull` and `run --input URL` share.
struct PACSSourceOptions: ParsableArguments {
    @Option(name: .long, help: "Our AE title towards a DIMSE peer (default VOXELFLOW; the peer must know it).")
    var callingAe = "VOXELFLOW"

    @Option(name: .long, help: "Retrieve from a DIMSE peer by C-MOVE instead of C-GET, listening on this port for the instances (the peer must know --move-ae as this host and port).")
    var movePort: UInt16?

    @Option(name: .long, help: "The AE title the peer sends C-MOVE instances to (default: --calling-ae).")
    var moveAe: String?

    @Option(name: .long, help: "C-GET from a DIMSE peer: associations that share each series (its instances listed by C-FIND, then split between them), 1–16 (default 4; 1 retrieves a series on one association). With several series at once, the peer sees up to that many times N associations.")
    var associations = 4

    @Option(name: .long, help: "Only series of this modality (CT, MR, PT, …); repeatable.")
    var modality: [String] = []

    @Option(name: .long, help: "Only studies of this date or range, as DICOM writes it: 20240101, 20240101-20241231, 20240101-.")
    var studyDate: String?

    @Option(name: .long, help: "Only series whose SeriesDescription matches this regular expression (e.g. 'AX|axial').")
    var description: String?

    @Option(name: .long, help: "A file of PatientIDs, one per line: only their series.")
    var patients: String?

    @Option(name: .long, help: "A file of AccessionNumbers, one per line: only their series.")
    var accessions: String?

    @OptionGroup(title: "Connection")
    var connection: PACSOptions

    func validate() throws {
        if moveAe != nil && movePort == nil { throw ValidationError("--move-ae needs --move-port (the port the instances arrive on)") }
        if movePort == 0 { throw ValidationError("--move-port must be 1–65535") }
        if !(1...16).contains(associations) { throw ValidationError("--associations must be 1–16") }
    }

    /// True for the addresses these options serve.
    static func isPACSAddress(_ text: String) -> Bool {
        let t = text.lowercased()
        return t.hasPrefix("http://") || t.hasPrefix("https://") || t.hasPrefix("dimse://")
    }

    static func lines(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(description: "\(path): cannot read the file") }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The client for `url` (DICOMweb or DIMSE) and the search the filters describe.
    /// - Throws: `InputError`, `HTTPError`, `DIMSEError` for unusable addresses or unreadable files.
    func client(url: String, parallel: Int) throws -> (any SeriesSource, SeriesQuery) {
        var query = SeriesQuery()
        query.modalities = modality
        query.studyDate = studyDate
        query.descriptionPattern = description
        if let patients { query.patientIDs = try PACSSourceOptions.lines(patients) }
        if let accessions { query.accessionNumbers = try PACSSourceOptions.lines(accessions) }
        if url.lowercased().hasPrefix("dimse://") {
            var client = try DIMSEClient(url: url, callingAETitle: callingAe)
            client.associations = associations
            if let movePort { try client.retrieveByMove(aeTitle: moveAe ?? callingAe, port: movePort) }
            return (client, query)
        }
        if movePort != nil || moveAe != nil { throw InputError(description: "--move-port and --move-ae apply to dimse:// peers only") }
        return (try DICOMwebClient(root: url, options: try connection.httpOptions(parallel: parallel)), query)
    }
}
