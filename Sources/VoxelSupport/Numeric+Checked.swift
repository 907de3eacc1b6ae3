extension Int {
    /// The whole number nearest to `value`, or nil when `value` is NaN, infinite, or too large for an index
    /// (beyond ±2⁵²). Use it for every conversion of a header value (spacing ratios, offsets, counts) to
    /// `Int`: Swift's `Int(_: Double)` traps on such values, and a header is untrusted input.
    @inlinable
    public init?(checkedRounding value: Double) {
        let r = value.rounded()
        guard r.isFinite, abs(r) <= 4_503_599_627_370_496 else { return nil }
        self.init(r)
    }
}
