import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads the calling thread may use for parallel work: one budget handed from `--jobs` down to
/// every parallel loop (decoding, gzip, resampling, permutation, convolution blocks).
///
/// A thread that was given no budget may use every core. The pipeline runner gives each of its case
/// threads `cores / jobs`, so two cases on two cores use one core each instead of four threads. Inside a
/// `Parallel.perform` worker the budget is 1: nested loops run serially on that worker.
public enum ComputeBudget {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The calling thread's budget (at least 1): what `withThreads` set, else `System.coreCount`.
    public static var threads: Int {
        guard let raw = pthread_getspecific(key) else { return System.coreCount }
        return max(1, Int(bitPattern: raw))
    }

    /// Runs `body` with the calling thread's budget set to `threads` (at least 1), then restores it.
    public static func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: max(1, threads)))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}

/// Parallel loops that respect the caller's `ComputeBudget`.
public enum Parallel {
    /// Calls `body(i)` once for every `i` in `0..<iterations`, on at most `ComputeBudget.threads` threads (the
    /// caller's included), and returns when all calls have. With a budget of 1 the calls run in order on the
    /// calling thread. Inside `body` the budget is 1. Indices are handed out dynamically, so uneven work
    /// balances; when `iterations` is at most the budget, each index gets its own thread (callers may then
    /// use `i` as a worker number).
    public static func perform(_ iterations: Int, _ body: @Sendable (Int) -> Void) {
        guard iterations > 0 else { return }
        let budget = ComputeBudget.threads
        if iterations == 1 { body(0); return }
        if budget <= 1 {
            ComputeBudget.withThreads(1) { for i in 0..<iterations { body(i) } }
            return
        }
        if iterations <= budget {
            DispatchQueue.concurrentPerform(iterations: iterations) { i in ComputeBudget.withThreads(1) { body(i) } }
            return
        }
        let next = IndexCounter()
        DispatchQueue.concurrentPerform(iterations: budget) { _ in
            ComputeBudget.withThreads(1) {
                while let i = next.take(below: iterations) { body(i) }
            }
        }
    }

    /// A shared counter handing out loop indices.
    final class IndexCounter: @unchecked Sendable {
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        deinit { pthread_mutex_destroy(&lock) }
        func take(below limit: Int) -> Int? {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
