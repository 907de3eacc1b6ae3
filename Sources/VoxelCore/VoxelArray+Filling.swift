extension VoxelArray {
    /// Creates `count` voxels of `type` whose bytes are written in place by `fill`, with no zero-filling
    /// and no intermediate copy (for readers that decode straight into the final storage).
    ///
    /// `fill` receives `leadingBytes + count * type.byteSize` writable bytes and must initialise them all;
    /// the first `leadingBytes` are scratch (for example a file header that precedes the voxels in a
    /// compressed stream) and are discarded. Multi-byte samples are then swapped when `byteSwapped` is true.
    /// The buffer must not escape `fill`.
    public init(type: VoxelType, count: Int, leadingBytes: Int = 0, byteSwapped: Bool = false,
                fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        func make<T>(_: T.Type, _ swap: (T) -> T) throws -> [T] {
            let stride = MemoryLayout<T>.stride
            let lead = (leadingBytes + stride - 1) / stride
            return try [T](unsafeUninitializedCapacity: count + lead) { buffer, initialized in
                guard let base = buffer.baseAddress else { return }
                let raw = UnsafeMutableRawPointer(base)
                try fill(UnsafeMutableRawBufferPointer(start: raw, count: leadingBytes + count * stride))
                if leadingBytes > 0 {
                    raw.copyMemory(from: raw + leadingBytes, byteCount: count * stride)
                }
                if byteSwapped && stride > 1 {
                    for n in 0..<count { base[n] = swap(base[n]) }
                }
                initialized = count
            }
        }
        switch type {
        case .uint8: self = .uint8(try make(UInt8.self) { $0 })
        case .int8: self = .int8(try make(Int8.self) { $0 })
        case .uint16: self = .uint16(try make(UInt16.self) { $0.byteSwapped })
        case .int16: self = .int16(try make(Int16.self) { $0.byteSwapped })
        case .int32: self = .int32(try make(Int32.self) { $0.byteSwapped })
        case .uint32: self = .uint32(try make(UInt32.self) { $0.byteSwapped })
        case .float32: self = .float32(try make(Float.self) { Float(bitPattern: $0.bitPattern.byteSwapped) })
        case .float64: self = .float64(try make(Double.self) { Double(bitPattern: $0.bitPattern.byteSwapped) })
        case .rgb24:
            let bytes = try VoxelArray(type: .uint8, count: count * 3, leadingBytes: leadingBytes, fill: fill)
            if case .uint8(let a) = bytes { self = .rgb24(a) } else { self = .rgb24([]) }
        }
    }
}
