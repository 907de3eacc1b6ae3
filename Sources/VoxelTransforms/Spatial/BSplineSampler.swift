import Dispatch
import Foundation
import VoxelCore
import VoxelSupport

/// Cubic B-spline interpolation (order 3), as ITK's `BSplineInterpolateImageFunction` that SimpleITK's
/// `sitkBSpline` uses: the volume is first turned into B-spline coefficients by recursive prefiltering
/// along each axis (pole √3 − 2, mirror-symmetric boundaries), so the spline passes through every voxel
/// value; each output point then combines 4 × 4 × 4 coefficients with the cubic B-spline weights.
/// Indices beyond the grid are mirrored. Values are physical (scaled); the result is float32.
///
/// Memory: the coefficients take 4 bytes per input voxel, besides the output.
enum BSplineSampler {
    static let pole = 3.0.squareRoot() - 2

    /// B-spline coefficients of one frame of `values` (x fastest), computed in place along x, y, z.
    static func coefficients(_ values: inout [Float], size: SIMD3<Int>, threads: Int) {
        let n = [size.x, size.y, size.z]
        let strides = [1, size.x, size.x * size.y]
        values.withUnsafeMutableBufferPointer { buffer in
            let shared = Shared(buffer)
            for axis in 0..<3 where n[axis] > 1 {
                let length = n[axis], stride = strides[axis]
                // Lines along `axis`: every combination of the other two indices.
                let others = (0..<3).filter { $0 != axis }
                let count = n[others[0]] * n[others[1]]
                let chunks = min(threads * 4, max(1, count))
                let per = (count + chunks - 1) / chunks
                Parallel.perform(chunks) { chunk in
                    var line = [Double](repeating: 0, count: length)
                    let lo = min(count, chunk * per), hi = min(count, lo + per)
                    for l in lo..<hi {
                        let a = l % n[others[0]], b = l / n[others[0]]
                        let start = a * strides[others[0]] + b * strides[others[1]]
                        for m in 0..<length { line[m] = Double(shared.value[start + m * stride]) }
                        filter(&line)
                        for m in 0..<length { shared.value[start + m * stride] = Float(line[m]) }
                    }
                }
            }
        }
    }

    /// In-place cubic B-spline prefilter of one line (causal then anticausal recursion, gain 6).
    static func filter(_ c: inout [Double]) {
        let count = c.count
        guard count > 1 else { return }
        let z = pole
        let gain = (1 - z) * (1 - 1 / z)
        for m in 0..<count { c[m] *= gain }
        // Initial causal coefficient, mirror-symmetric boundary (ITK: tolerance 1e-10).
        let horizon = Int((log(1e-10) / log(abs(z))).rounded(.up))
        if horizon < count {
            var zn = z, sum = c[0]
            for m in 1..<horizon { sum += zn * c[m]; zn *= z }
            c[0] = sum
        } else {
            var zn = z
            let iz = 1 / z
            var z2n = pow(z, Double(count - 1))
            var sum = c[0] + z2n * c[count - 1]
            z2n *= z2n * iz
            for m in 1..<(count - 1) { sum += (zn + z2n) * c[m]; zn *= z; z2n *= iz }
            c[0] = sum / (1 - zn * zn)
        }
        for m in 1..<count { c[m] += z * c[m - 1] }
        c[count - 1] = (z / (z * z - 1)) * (c[count - 1] + z * c[count - 2])
        for m in stride(from: count - 2, through: 0, by: -1) { c[m] = z * (c[m + 1] - c[m]) }
    }

    /// The four coefficient indices (mirrored into the grid) and weights for continuous index `x` on an
    /// axis of `length` voxels.
    @inline(__always)
    static func taps(_ x: Double, length: Int) -> (SIMD4<Int>, SIMD4<Double>) {
        let f = x.rounded(.down)
        let t = x - f
        let t2 = t * t, t3 = t2 * t
        let w = SIMD4((1 - t) * (1 - t) * (1 - t) / 6, (4 - 6 * t2 + 3 * t3) / 6, (1 + 3 * t + 3 * t2 - 3 * t3) / 6, t3 / 6)
        let first = Int(f) - 1
        var index = SIMD4<Int>(first, first + 1, first + 2, first + 3)
        if length == 1 { return (SIMD4(repeating: 0), w) }
        let last = length - 1
        for m in 0..<4 {
            var v = index[m]
            // Mirror about the first and last sample (without repeating them), folding as often as needed.
            let period = 2 * last
            v = ((v % period) + period) % period
            if v > last { v = period - v }
            index[m] = v
        }
        return (index, w)
    }

    /// Resamples `volume` (every time point) to the output grid given by the index map.
    static func run(_ volume: Volume, out: SIMD3<Int>, origin o: SIMD3<Double>, steps: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>),
                    fill: Double, threads: Int) -> [Float] {
        let input = volume.geometry.size
        let frameIn = input.x * input.y * input.z, frameOut = out.x * out.y * out.z
        let t = volume.timePoints
        let limit = SIMD3<Double>(Double(input.x) - 0.5, Double(input.y) - 0.5, Double(input.z) - 0.5)
        let (colX, colY, colZ) = steps
        let scaling = volume.scaling
        var result = [Float](repeating: Float(fill), count: frameOut * t)
        for time in 0..<t {
            var c = [Float](unsafeUninitializedCapacity: frameIn) { buffer, initialized in
                for n in 0..<frameIn { buffer[n] = Float(scaling.apply(volume.voxels.value(at: time * frameIn + n))) }
                initialized = frameIn
            }
            coefficients(&c, size: input, threads: threads)
            c.withUnsafeBufferPointer { coefficients in
                result.withUnsafeMutableBufferPointer { destination in
                    let src = Shared(coefficients), dst = Shared(destination)
                    let chunks = min(threads * 4, max(1, out.z))
                    let per = (out.z + chunks - 1) / chunks
                    Parallel.perform(chunks) { chunk in
                        let first = min(out.z, chunk * per), last = min(out.z, first + per)
                        for k in first..<last {
                            for j in 0..<out.y {
                                var p = o + colY * Double(j) + colZ * Double(k)
                                let row = time * frameOut + out.x * (j + out.y * k)
                                for i in 0..<out.x {
                                    defer { p += colX }
                                    guard p.x >= -0.5, p.y >= -0.5, p.z >= -0.5, p.x < limit.x, p.y < limit.y, p.z < limit.z else { continue }
                                    let (ix, wx) = taps(p.x, length: input.x)
                                    let (iy, wy) = taps(p.y, length: input.y)
                                    let (iz, wz) = taps(p.z, length: input.z)
                                    var sum = 0.0
                                    for c in 0..<4 {
                                        var plane = 0.0
                                        let zBase = iz[c] * input.x * input.y
                                        for b in 0..<4 {
                                            let r = zBase + iy[b] * input.x
                                            let v0 = Double(src.value[r + ix[0]]), v1 = Double(src.value[r + ix[1]])
                                            let v2 = Double(src.value[r + ix[2]]), v3 = Double(src.value[r + ix[3]])
                                            plane += wy[b] * (wx[0] * v0 + wx[1] * v1 + wx[2] * v2 + wx[3] * v3)
                                        }
                                        sum += wz[c] * plane
                                    }
                                    dst.value[row + i] = Float(sum)
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
