extension VoxelArray {
    /// Smallest and largest stored value, ignoring NaN; nil when the array is empty or all NaN.
    /// For `.rgb24` the range covers every sample.
    public func storedRange() -> ClosedRange<Double>? {
        func range<T: Sequence>(_ values: T, _ toDouble: (T.Element) -> Double) -> ClosedRange<Double>? {
            var lo = Double.infinity
            var hi = -Double.infinity
            for v in values {
                let d = toDouble(v)
                if d < lo { lo = d }
                if d > hi { hi = d }
            }
            return lo <= hi ? lo...hi : nil
        }
        switch self {
        case .uint8(let a): return range(a) { Double($0) }
        case .int8(let a): return range(a) { Double($0) }
        case .uint16(let a): return range(a) { Double($0) }
        case .int16(let a): return range(a) { Double($0) }
        case .int32(let a): return range(a) { Double($0) }
        case .uint32(let a): return range(a) { Double($0) }
        case .float32(let a): return range(a) { Double($0) }
        case .float64(let a): return range(a) { $0 }
        case .rgb24(let a): return range(a) { Double($0) }
        }
    }
}
