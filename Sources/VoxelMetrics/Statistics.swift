/// Order statistics and summaries of samples, as NumPy computes them.
public enum SampleStatistics {
    /// The `q`-quantile (0…1) of `values` with linear interpolation between order statistics (NumPy's and
    /// PyTorch's default "linear" method: position `q * (n - 1)` in the sorted values); `nil` for no values.
    public static func quantile(_ values: [Double], _ q: Double) -> Double? {
        quantile(sorted: values.sorted(), q)
    }

    /// `quantile` of values that are already sorted ascending.
    public static func quantile(sorted: [Double], _ q: Double) -> Double? {
        guard let first = sorted.first else { return nil }
        guard sorted.count > 1 else { return first }
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}

/// Mean, spread and percentiles of one metric over cases (values that are undefined for a case are left out
/// and counted in `undefined`).
public struct MetricSummary: Sendable, Equatable, Codable {
    /// Cases with a value.
    public var count: Int
    /// Cases whose value was undefined (e.g. precision of an empty prediction).
    public var undefined: Int
    /// Arithmetic mean.
    public var mean: Double?
    /// Sample standard deviation (divisor n − 1; `nil` below two values).
    public var standardDeviation: Double?
    /// Smallest value.
    public var minimum: Double?
    /// 5th percentile (linear interpolation, as `SampleStatistics.quantile`).
    public var percentile5: Double?
    /// 25th percentile.
    public var percentile25: Double?
    /// Median.
    public var median: Double?
    /// 75th percentile.
    public var percentile75: Double?
    /// 95th percentile.
    public var percentile95: Double?
    /// Largest value.
    public var maximum: Double?

    /// Summarises `values` (`nil` entries are undefined values).
    public init(_ values: [Double?]) {
        let defined = values.compactMap { $0 }.sorted()
        count = defined.count
        undefined = values.count - defined.count
        guard !defined.isEmpty else { return }
        let mean = defined.reduce(0, +) / Double(defined.count)
        self.mean = mean
        if defined.count > 1 {
            let squares = defined.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            standardDeviation = (squares / Double(defined.count - 1)).squareRoot()
        }
        minimum = defined.first
        maximum = defined.last
        percentile5 = SampleStatistics.quantile(sorted: defined, 0.05)
        percentile25 = SampleStatistics.quantile(sorted: defined, 0.25)
        median = SampleStatistics.quantile(sorted: defined, 0.5)
        percentile75 = SampleStatistics.quantile(sorted: defined, 0.75)
        percentile95 = SampleStatistics.quantile(sorted: defined, 0.95)
    }
}
