/// The output of `Gzip.compress`: gzip members laid out in one allocation, in order.
///
/// Write them one after another (`withBuffers`) to get a standard multi-member gzip file.
public final class GzipMembers: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    /// Member byte ranges; raw storage so workers can fill disjoint slots concurrently.
    private let ranges: UnsafeMutableBufferPointer<Range<Int>>

    init(capacity: Int, count: Int) {
        self.capacity = max(capacity, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 64)
        ranges = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: count)
        ranges.initialize(repeating: 0..<0)
    }

    deinit {
        base.deallocate()
        ranges.deallocate()
    }

    /// Records member `index` (called once per index, from any thread; indices are disjoint).
    func setMember(_ index: Int, _ range: Range<Int>) {
        ranges[index] = range
    }

    /// Number of members.
    public var count: Int { ranges.count }

    /// Total compressed bytes.
    public var byteCount: Int { ranges.reduce(0) { $0 + $1.count } }

    /// Lends the members' bytes, in order. The buffers must not escape `body`.
    public func withBuffers<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        try body(ranges.map { UnsafeRawBufferPointer(start: base + $0.lowerBound, count: $0.count) })
    }

    /// The whole gzip stream as one array (copies; for tests and small data).
    public var bytes: [UInt8] {
        withBuffers { buffers in buffers.flatMap { Array($0) } }
    }
}
