import Foundation

/// Lets a caller stop a run from outside (the command line does on SIGINT and SIGTERM).
///
/// `requestStop()` lets the cases in flight finish, starts no new one, and the run ends with the status
/// "interrupted" in its provenance. `abandon()` is for when waiting is not wanted (a second signal): it records
/// "interrupted" at once; the caller then exits, and the unfinished cases stay in the staging folder, which
/// the next run (`--resume`) removes. Thread-safe.
public final class RunControl: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    private var abandonHandler: (() -> Void)?

    /// A control nobody has asked to stop.
    public init() {}

    /// Finish the cases in flight and start no new one.
    public func requestStop() {
        lock.lock(); stop = true; lock.unlock()
    }

    /// True once `requestStop()` or `abandon()` was called.
    public var stopRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return stop
    }

    /// Records the run as interrupted now (the caller exits next).
    public func abandon() {
        lock.lock()
        stop = true
        let handler = abandonHandler
        lock.unlock()
        handler?()
    }

    func setAbandonHandler(_ handler: (() -> Void)?) {
        lock.lock(); abandonHandler = handler; lock.unlock()
    }
}
