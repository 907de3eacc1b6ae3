import VoxelSupport

/// What a run did.
public struct RunSummary: Sendable {
    /// Cases in this run (after sharding), including skipped ones.
    public var total: Int
    public var succeeded: Int
    public var failed: Int
    /// Cases skipped because an earlier run completed them (`--resume`).
    public var skipped: Int
    public var seconds: Double
    /// The failed cases' records.
    public var failures: [CaseRecord]
    /// For dry runs: the cases that would run and the files each would write.
    public var plan: [(caseID: String, outputs: [String], problem: String?)]
    /// True when the run was stopped (`RunControl`) before every case ran.
    public var interrupted = false
    /// Cases not started because the run was stopped.
    public var notStarted = 0
    /// Warnings of all cases, counted by kind.
    public var warnings = WarningSummary([])
    /// Manifest lines that could not be written (the run then throws `RunError.cannotRecord`).
    public var recordErrors: [String] = []
    /// Paths of the manifest, provenance and inventory files of this run (or shard).
    public var manifestPath: String
    public var provenancePath: String
    public var inventoryPath: String
    /// Every file of the archive and what became of it.
    public var inventory: [InventoryEntry]

    init(total: Int, succeeded: Int, failed: Int, skipped: Int, seconds: Double, failures: [CaseRecord],
         plan: [(caseID: String, outputs: [String], problem: String?)], files: RunFiles, inventory: [InventoryEntry]) {
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
        self.skipped = skipped
        self.seconds = seconds
        self.failures = failures
        self.plan = plan
        manifestPath = files.manifest
        provenancePath = files.provenance
        inventoryPath = files.inventory
        self.inventory = inventory
    }

    /// Inventory counts by status ("used", "unreadable", …).
    public var inventoryCounts: [(status: String, count: Int)] {
        let counts = Dictionary(grouping: inventory, by: \.status.rawValue).mapValues(\.count)
        return counts.keys.sorted().compactMap { k in counts[k].map { (k, $0) } }
    }
}

/// Warnings of a run counted by kind (duplicate slices, missing slices, qform/sform disagreement…), with
/// the cases they come from, so that a console summary can say "324 duplicate slice(s) in 3 case(s)".
public struct WarningSummary: Sendable {
    /// One kind of warning.
    public struct Kind: Sendable {
        public var name: String
        public var count: Int
        /// The cases that have it, sorted.
        public var cases: [String]
    }

    /// Kinds by decreasing count.
    public var kinds: [Kind]

    /// Counts the warnings of `records`.
    public init(_ records: [CaseRecord]) {
        var counts: [String: (Int, Set<String>)] = [:]
        for r in records {
            for w in r.warnings {
                let k = WarningSummary.kind(of: w)
                var entry = counts[k] ?? (0, [])
                entry.0 += 1
                entry.1.insert(r.caseID)
                counts[k] = entry
            }
        }
        kinds = counts.map { Kind(name: $0.key, count: $0.value.0, cases: $0.value.1.sorted()) }
            .sorted { ($0.count, $1.name) > ($1.count, $0.name) }
    }

    static let known = [
        "duplicate slice", "missing slice", "uneven slice spacing", "sheared", "qform and sform disagree",
        "is shared by", "unreadable file", "scl_inter is not finite",
    ]
    static let names = [
        "sheared": "gantry tilt (sheared slices)", "is shared by": "SeriesInstanceUID shared by several patients or studies",
        "unreadable file": "unreadable file beside a series", "missing slice": "missing slices",
        "duplicate slice": "duplicate slices",
    ]

    /// The kind of a warning message: the known phrase it contains, else "other".
    public static func kind(of message: String) -> String {
        for k in known where message.contains(k) { return names[k] ?? k }
        return "other"
    }
}
