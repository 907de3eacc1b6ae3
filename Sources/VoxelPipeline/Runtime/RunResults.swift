import Foundation

/// A value shared between threads behind a lock.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func update(_ change: (inout T) -> Void) { lock.lock(); change(&stored); lock.unlock() }
}

/// Thread-safe collection of case records and the next-case counter.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [CaseRecord] = []

    func add(_ r: CaseRecord) { lock.lock(); records.append(r); lock.unlock() }
    var all: [CaseRecord] { lock.lock(); defer { lock.unlock() }; return records }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take(limit: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
