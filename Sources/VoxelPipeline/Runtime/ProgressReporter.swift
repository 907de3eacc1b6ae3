import Foundation

/// Reports a run's progress on standard error: a redrawn bar with case count, rate and ETA on a terminal,
/// one plain line per case otherwise, nothing at all when quiet. Failures are always printed.
public final class ProgressReporter: @unchecked Sendable {
    /// How progress is shown.
    public enum Style: Sendable {
        case bar, lines, quiet

        /// `.bar` when standard error is a terminal, `.lines` otherwise.
        public static var automatic: Style { isatty(2) != 0 ? .bar : .lines }
    }

    private let style: Style
    private let lock = NSLock()
    private var total = 0
    private var done = 0
    private var failed = 0
    private var start = 0.0
    private var barShown = false

    public init(style: Style) { self.style = style }

    func begin(total: Int, skipped: Int) {
        lock.lock(); defer { lock.unlock() }
        self.total = total
        start = Clock.now()
        if style != .quiet {
            emit("\(total) case\(total == 1 ? "" : "s") to run" + (skipped > 0 ? " (\(skipped) already complete, skipped)" : ""))
        }
        drawBar()
    }

    func finished(_ record: CaseRecord) {
        lock.lock(); defer { lock.unlock() }
        done += 1
        if record.status == .failed {
            failed += 1
            let stage = record.error?.stage ?? "?"
            emit("case \(record.caseID) FAILED at \(stage): \(record.error?.message ?? "")")
        } else if style == .lines {
            emit("case \(record.caseID) ok (\(String(format: "%.2f", record.seconds)) s) [\(done)/\(total)]")
        }
        drawBar()
    }

    func end() {
        lock.lock(); defer { lock.unlock() }
        if barShown { FileHandle.standardError.write(Data("\n".utf8)); barShown = false }
    }

    private func emit(_ line: String) {
        if barShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); barShown = false }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private func drawBar() {
        guard style == .bar, total > 0 else { return }
        let width = 30
        let filled = width * done / total
        let elapsed = Clock.now() - start
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        var text = "\r\u{1B}[K[\(bar)] \(done)/\(total) cases"
        if failed > 0 { text += ", \(failed) failed" }
        if done > 0 { text += String(format: ", %.2f cases/s", rate) + ", ETA " + ProgressReporter.clock(eta) }
        FileHandle.standardError.write(Data(text.utf8))
        barShown = true
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
