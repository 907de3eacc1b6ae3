import Dispatch
import VoxelCore
import VoxelSupport

/// How values between voxel centres are computed.
public enum Interpolation: String, Codable, Sendable, CaseIterable {
    /// The nearest voxel (half-integers round up, as ITK). Label maps always use this.
    case nearest
    /// Trilinear.
    case linear
    /// Cubic B-spline (order 3) through the voxel values, as SimpleITK's `sitkBSpline`: smoother than
    /// linear, may overshoot at edges. Output float32.
    case bspline
}

/// Resamples a volume onto another grid by following every output voxel centre back to the input.
///
/// Boundary rule (ITK's): a point is inside when its continuous index lies in [−0.5, n − 0.5) on every
/// axis; neighbours beyond the edge take the edge voxel. Outside points get `fill` (physical units).
/// Nearest keeps the stored type and scaling (so labels stay labels); linear gives float32 physical values.
/// Work is split over slabs of the output on all cores; no per-voxel allocation.
public struct ResampleToGrid: Codable, Sendable, Equatable {
    /// The output grid (LPS).
    public var target: Geometry
    /// Interpolation.
    public var interpolation: Interpolation
    /// Value of output voxels outside the input, physical units.
    public var fill: Double

    /// Creates the transform.
    public init(target: Geometry, interpolation: Interpolation = .linear, fill: Double = 0) {
        self.target = target
        self.interpolation = interpolation
        self.fill = fill
    }

    /// Resamples a 3D volume (4D volumes: every time point).
    public func apply(_ volume: Volume) throws -> Volume {
        guard let toInput = volume.geometry.affine.inverse else {
            throw TransformError.incompatibleVolume("the input grid's affine is singular")
        }
        let map = toInput * target.affine  // output index -> input continuous index
        let out = target.size, input = volume.geometry.size
        let frameOut = out.x * out.y * out.z, frameIn = input.x * input.y * input.z
        let t = volume.timePoints
        let m = map.linear, o = map.translation
        let colX = m.column(0), colY = m.column(1), colZ = m.column(2)
        let limit = SIMD3<Double>(Double(input.x) - 0.5, Double(input.y) - 0.5, Double(input.z) - 0.5)
        let threads = ComputeBudget.threads

        /// Visits every output voxel with its input continuous index, slab by slab in parallel.
        func forEachVoxel(_ body: @escaping @Sendable (_ n: Int, _ p: SIMD3<Double>) -> Void) {
            let slabs = out.z * t
            let chunks = min(threads * 4, max(1, slabs))
            let per = (slabs + chunks - 1) / chunks
            Parallel.perform(chunks) { chunk in
                let first = min(slabs, chunk * per), last = min(slabs, first + per)
                for s in first..<last {
                    let time = s / out.z, k = s % out.z
                    for j in 0..<out.y {
                        var p = o + colY * Double(j) + colZ * Double(k)
                        let row = time * frameOut + out.x * (j + out.y * k)
                        for i in 0..<out.x {
                            body(row + i, p)
                            p += colX
                        }
                    }
                }
            }
        }
        @Sendable func inside(_ p: SIMD3<Double>) -> Bool {
            p.x >= -0.5 && p.y >= -0.5 && p.z >= -0.5 && p.x < limit.x && p.y < limit.y && p.z < limit.z
        }

        switch interpolation {
        case .nearest:
            // Gather stored values; outside voxels get the stored equivalent of `fill`.
            var sources = [Int32](repeating: -1, count: frameOut * t)
            sources.withUnsafeMutableBufferPointer { buffer in
                let shared = Shared(buffer)
                forEachVoxel { n, p in
                    guard inside(p) else { return }
                    let i = Int((p.x + 0.5).rounded(.down)), j = Int((p.y + 0.5).rounded(.down)), k = Int((p.z + 0.5).rounded(.down))
                    shared.value[n] = Int32(truncatingIfNeeded: (n / frameOut) * frameIn + i + input.x * (j + input.y * k))
                }
            }
            guard frameIn * t < Int(Int32.max) else { throw TransformError.incompatibleVolume("volume too large for nearest resampling") }
            let storedFill = (fill - volume.scaling.intercept) / volume.scaling.slope
            let voxels = volume.voxels.gathered(count: frameOut * t, fill: storedFill) { sources[$0] >= 0 ? Int(sources[$0]) : nil }
            return try Volume(geometry: target, voxels: voxels, timePoints: t, timeStep: volume.timeStep,
                              scaling: volume.scaling, metadata: volume.metadata)
        case .linear:
            // Interpolate stored values (typed, no conversion pass over the input), then apply the scaling:
            // linear interpolation commutes with slope × value + intercept.
            var values = [Float](unsafeUninitializedCapacity: frameOut * t) { buffer, initialized in
                // Huge pages first, then the fill value (outside voxels keep it).
                let raw = UnsafeMutableRawBufferPointer(buffer)
                MemoryAdvice.preferHugePages(raw)
                buffer.initialize(repeating: Float(fill))
                initialized = frameOut * t
            }
            let slope = volume.scaling.slope, intercept = volume.scaling.intercept
            values.withUnsafeMutableBufferPointer { dst in
                let destination = Shared(dst)
                func run<T: SampleValue>(_ src: [T]) {
                    src.withUnsafeBufferPointer { raw in
                        LinearSampler.run(source: Shared(raw), destination: destination, input: input, out: out,
                                          timePoints: t, origin: o, steps: (colX, colY, colZ), limit: limit, slope: slope,
                                          intercept: intercept, threads: threads)
                    }
                }
                switch volume.voxels {
                case .uint8(let a): run(a)
                case .int8(let a): run(a)
                case .uint16(let a): run(a)
                case .int16(let a): run(a)
                case .int32(let a): run(a)
                case .uint32(let a): run(a)
                case .float32(let a): run(a)
                case .float64(let a): run(a)
                case .rgb24: break
                }
            }
            if case .rgb24 = volume.voxels { throw TransformError.incompatibleVolume("linear resampling of RGB volumes is not supported") }
            return try Volume(geometry: target, voxels: .float32(values), timePoints: t, timeStep: volume.timeStep,
                              metadata: volume.metadata)
        case .bspline:
            if case .rgb24 = volume.voxels { throw TransformError.incompatibleVolume("B-spline resampling of RGB volumes is not supported") }
            let values = BSplineSampler.run(volume, out: out, origin: o, steps: (colX, colY, colZ), fill: fill, threads: threads)
            return try Volume(geometry: target, voxels: .float32(values), timePoints: t, timeStep: volume.timeStep,
                              metadata: volume.metadata)
        }
    }
}

/// The trilinear kernel, specialised per voxel type; rows are walked with incremental index arithmetic.
enum LinearSampler {
    /// The cell of continuous index `p` on a grid of `input` voxels: lower and upper indices per axis (clamped,
    /// so that within half a voxel of the edge the edge value is used) and the upper weights; nil outside
    /// −0.5 ≤ p < `limit` (n − 0.5).
    @inline(__always)
    static func cell(_ p: SIMD3<Double>, input: SIMD3<Int>, limit: SIMD3<Double>)
        -> (x0: Int, x1: Int, y0: Int, y1: Int, z0: Int, z1: Int, wx: Double, wy: Double, wz: Double)? {
        guard p.x >= -0.5, p.y >= -0.5, p.z >= -0.5, p.x < limit.x, p.y < limit.y, p.z < limit.z else { return nil }
        let fx = p.x.rounded(.down), fy = p.y.rounded(.down), fz = p.z.rounded(.down)
        let ix = Int(fx), iy = Int(fy), iz = Int(fz)
        return (max(0, ix), min(input.x - 1, ix + 1), max(0, iy), min(input.y - 1, iy + 1), max(0, iz), min(input.z - 1, iz + 1),
                p.x - fx, p.y - fy, p.z - fz)
    }

    @inline(__always)
    static func toDouble<T: SampleValue>(_ v: T) -> Double { v.sampleValue }

    static func run<T: SampleValue>(source: Shared<UnsafeBufferPointer<T>>, destination: Shared<UnsafeMutableBufferPointer<Float>>, input: SIMD3<Int>, out: SIMD3<Int>,
                                    timePoints t: Int, origin o: SIMD3<Double>, steps: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>),
                                    limit: SIMD3<Double>, slope: Double, intercept: Double, threads: Int) {
        let frameOut = out.x * out.y * out.z, frameIn = input.x * input.y * input.z
        let (colX, colY, colZ) = steps
        if colX.y == 0, colX.z == 0, colY.x == 0, colY.z == 0, colZ.x == 0, colZ.y == 0 {
            separable(source: source, destination: destination, input: input, out: out, timePoints: t, origin: o,
                      scale: SIMD3(colX.x, colY.y, colZ.z), limit: limit, slope: slope, intercept: intercept, threads: threads)
            return
        }
        let slabs = out.z * t
        let chunks = min(threads * 4, max(1, slabs))
        let per = (slabs + chunks - 1) / chunks
        let sx = input.x, sxy = input.x * input.y
        Parallel.perform(chunks) { chunk in
            let src = source.value, dst = destination.value
            let first = min(slabs, chunk * per), last = min(slabs, first + per)
            for s in first..<last {
                let time = s / out.z, k = s % out.z
                let base = time * frameIn
                for j in 0..<out.y {
                    var p = o + colY * Double(j) + colZ * Double(k)
                    let row = time * frameOut + out.x * (j + out.y * k)
                    for i in 0..<out.x {
                        defer { p += colX }
                        guard case let (x0, x1, y0, y1, z0, z1, wx, wy, wz)? = cell(p, input: input, limit: limit) else { continue }
                        let r00 = base + y0 * sx + z0 * sxy, r10 = base + y1 * sx + z0 * sxy
                        let r01 = base + y0 * sx + z1 * sxy, r11 = base + y1 * sx + z1 * sxy
                        let a00 = toDouble(src[r00 + x0]), b00 = toDouble(src[r00 + x1])
                        let a10 = toDouble(src[r10 + x0]), b10 = toDouble(src[r10 + x1])
                        let a01 = toDouble(src[r01 + x0]), b01 = toDouble(src[r01 + x1])
                        let a11 = toDouble(src[r11 + x0]), b11 = toDouble(src[r11 + x1])
                        let c00 = a00 + (b00 - a00) * wx, c10 = a10 + (b10 - a10) * wx
                        let c01 = a01 + (b01 - a01) * wx, c11 = a11 + (b11 - a11) * wx
                        let c0 = c00 + (c10 - c00) * wy, c1 = c01 + (c11 - c01) * wy
                        dst[row + i] = Float((c0 + (c1 - c0) * wz) * slope + intercept)
                    }
                }
            }
        }
    }
}

/// Resamples to a voxel spacing, keeping the origin, directions and physical extent
/// (size = round(n × old spacing / new spacing); or MONAI's rule, `SizeRule.centres`). `apply` also returns the transform back to the original
/// grid, which lands on exactly the original dimensions and affine.
public struct Resample: Codable, Sendable, Equatable {
    /// Target spacing (mm) along i, j, k.
    public var spacing: [Double]
    /// Interpolation (label maps should use `.nearest`).
    public var interpolation: Interpolation
    /// Smooth before downsampling to suppress aliasing: along each axis whose spacing grows by a factor
    /// f > 1, a Gaussian with σ = (f − 1) / 2 input voxels (scikit-image's `resize(anti_aliasing=True)`
    /// rule) is applied first. Ignored for nearest-neighbour (labels are never smoothed).
    public var antialias: Bool
    /// How the output size follows from the input's (nil: `.extent`).
    public var sizeRule: SizeRule?

    /// How many output voxels an axis gets.
    public enum SizeRule: String, Codable, Sendable, CaseIterable {
        /// round(n × old spacing / new spacing): the physical extent kept (SimpleITK, TorchIO).
        case extent
        /// round((n − 1) × old spacing / new spacing + 1), halves to even as NumPy: the span between the first and last voxel centres
        /// kept, and a last voxel beyond the input's last centre takes the border's value (MONAI's `Spacingd`).
        case centres
    }

    /// Creates the transform; spacings must be positive.
    public init(spacing: [Double], interpolation: Interpolation = .linear, antialias: Bool = false, sizeRule: SizeRule = .extent) throws {
        guard spacing.count == 3, spacing.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TransformError.invalidParameter("spacing must be 3 positive numbers (mm), got \(spacing)")
        }
        self.spacing = spacing
        self.interpolation = interpolation
        self.antialias = antialias
        self.sizeRule = sizeRule == .extent ? nil : sizeRule
    }

    /// The output grid for an input grid.
    public func plan(for g: Geometry) -> Geometry {
        let size = (0..<3).map { c -> Int in
            switch sizeRule ?? .extent {
            case .extent: return max(1, Int((Double(g.size[c]) * g.spacing[c] / spacing[c]).rounded()))
            // NumPy's rounding (halves to even), as MONAI's compute_shape_offset.
            case .centres: return max(1, Int((Double(g.size[c] - 1) * g.spacing[c] / spacing[c] + 1).rounded(.toNearestOrEven)))
            }
        }
        return Geometry(size: SIMD3(size[0], size[1], size[2]), spacing: SIMD3(spacing[0], spacing[1], spacing[2]),
                        origin: g.origin, direction: g.direction)
    }

    /// The anti-aliasing σ (input voxels) per axis for an input grid; zeros when nothing is smoothed.
    public func antialiasSigma(for g: Geometry) -> [Double] {
        guard antialias, interpolation != .nearest else { return [0, 0, 0] }
        return (0..<3).map { c in max(0, (spacing[c] / g.spacing[c] - 1) / 2) }
    }

    /// Resampled volume and the transform back onto the input grid.
    public func apply(_ volume: Volume, fill: Double = 0) throws -> (volume: Volume, inverse: ResampleToGrid) {
        let forward = ResampleToGrid(target: plan(for: volume.geometry), interpolation: interpolation, fill: fill)
        var source = volume
        let sigma = antialiasSigma(for: volume.geometry)
        if sigma.contains(where: { $0 > 0 }) { source = try GaussianSmooth(sigma: sigma).apply(volume) }
        if sizeRule == .centres {
            // The last output voxel may lie beyond the last input voxel centre (the size is rounded up): MONAI's
            // Spacingd samples there with border padding, so the input is extended by copies of its last
            // voxels, as far as the output reaches.
            let g = volume.geometry, out = forward.target.size
            let pad = (0..<3).map { c -> Int in
                let reach = Double(out[c] - 1) * spacing[c] / g.spacing[c] - Double(g.size[c] - 1)
                return reach > 0 ? Int(reach.rounded(.up)) + 1 : 0
            }
            if pad.contains(where: { $0 > 0 }) {
                let size = [g.size.x + pad[0], g.size.y + pad[1], g.size.z + pad[2]]
                source = try GridWindow(offset: [0, 0, 0], size: size, inputSize: [g.size.x, g.size.y, g.size.z])
                    .apply(source, replicatingEdges: true)
            }
        }
        return (try forward.apply(source), ResampleToGrid(target: volume.geometry, interpolation: interpolation, fill: fill))
    }
}

extension LinearSampler {
    /// Per-axis interpolation taps: lower and upper input index, weight of the upper, and whether inside.
    struct Taps {
        var lower: [Int] = [], upper: [Int] = [], weight: [Double] = [], inside: [Bool] = []

        init(count: Int, origin: Double, step: Double, size: Int, limit: Double) {
            for n in 0..<count {
                let p = origin + step * Double(n)
                let f = p.rounded(.down)
                lower.append(max(0, Int(f)))
                upper.append(min(size - 1, Int(f) + 1))
                weight.append(p - f)
                inside.append(p >= -0.5 && p < limit)
            }
        }
    }

    /// Axis-aligned mapping (the grids share directions): taps are computed once per axis, so the inner
    /// loop is eight loads and seven lerps.
    static func separable<T: SampleValue>(source: Shared<UnsafeBufferPointer<T>>, destination: Shared<UnsafeMutableBufferPointer<Float>>, input: SIMD3<Int>,
                                          out: SIMD3<Int>, timePoints t: Int, origin o: SIMD3<Double>, scale: SIMD3<Double>,
                                          limit: SIMD3<Double>, slope: Double, intercept: Double, threads: Int) {
        let tx = Taps(count: out.x, origin: o.x, step: scale.x, size: input.x, limit: limit.x)
        let ty = Taps(count: out.y, origin: o.y, step: scale.y, size: input.y, limit: limit.y)
        let tz = Taps(count: out.z, origin: o.z, step: scale.z, size: input.z, limit: limit.z)
        let frameOut = out.x * out.y * out.z, frameIn = input.x * input.y * input.z
        let sx = input.x, sxy = input.x * input.y
        let slabs = out.z * t
        let chunks = min(threads * 4, max(1, slabs))
        let per = (slabs + chunks - 1) / chunks
        Parallel.perform(chunks) { chunk in
            let src = source.value, dst = destination.value
            let first = min(slabs, chunk * per), last = min(slabs, first + per)
            for s in first..<last {
                let time = s / out.z, k = s % out.z
                guard tz.inside[k] else { continue }
                let wz = tz.weight[k]
                let zl = time * frameIn + tz.lower[k] * sxy, zu = time * frameIn + tz.upper[k] * sxy
                for j in 0..<out.y where ty.inside[j] {
                    let wy = ty.weight[j]
                    let r00 = zl + ty.lower[j] * sx, r10 = zl + ty.upper[j] * sx
                    let r01 = zu + ty.lower[j] * sx, r11 = zu + ty.upper[j] * sx
                    let row = time * frameOut + out.x * (j + out.y * k)
                    for i in 0..<out.x where tx.inside[i] {
                        let x0 = tx.lower[i], x1 = tx.upper[i], wx = tx.weight[i]
                        let a00 = src[r00 + x0].sampleValue, b00 = src[r00 + x1].sampleValue
                        let a10 = src[r10 + x0].sampleValue, b10 = src[r10 + x1].sampleValue
                        let a01 = src[r01 + x0].sampleValue, b01 = src[r01 + x1].sampleValue
                        let a11 = src[r11 + x0].sampleValue, b11 = src[r11 + x1].sampleValue
                        let c00 = a00 + (b00 - a00) * wx, c10 = a10 + (b10 - a10) * wx
                        let c01 = a01 + (b01 - a01) * wx, c11 = a11 + (b11 - a11) * wx
                        let c0 = c00 + (c10 - c00) * wy, c1 = c01 + (c11 - c01) * wy
                        dst[row + i] = Float((c0 + (c1 - c0) * wz) * slope + intercept)
                    }
                }
            }
        }
    }
}

/// Voxel types the interpolation kernels read, converted to Double without a function call.
protocol SampleValue: Sendable { var sampleValue: Double { get } }
extension UInt8: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension Int8: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension UInt16: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension Int16: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension Int32: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension UInt32: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension Float: SampleValue { @inline(__always) var sampleValue: Double { Double(self) } }
extension Double: SampleValue { @inline(__always) var sampleValue: Double { self } }


