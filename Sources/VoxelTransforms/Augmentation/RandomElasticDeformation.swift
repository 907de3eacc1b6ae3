import Dispatch
import VoxelCore
import VoxelSupport

/// Random elastic deformation (TorchIO's `RandomElasticDeformation` scheme), with probability `probability`.
///
/// A grid of `controlPoints` × `controlPoints` × `controlPoints` points spans the volume; each inner point
/// gets a displacement drawn uniformly from ±`maxDisplacement` mm along the volume's i, j, k axes (points on
/// the outer layer stay at 0, which keeps displacements small at the edges). The displacement of every voxel is the
/// cubic B-spline of the control displacements, which is smooth (twice differentiable) and no larger than
/// the largest control displacement. The image is sampled trilinearly at the displaced positions (indices
/// clamped to the grid, so no fill value appears) and the label map nearest-neighbour at the same
/// positions, from the same draw. Shapes and geometry stay those of the input; image output is float32.
public struct RandomElasticDeformation: Codable, Sendable, Equatable {
    public var probability: Double
    /// Control points per axis (≥ 4).
    public var controlPoints: Int
    /// Largest displacement of a control point along i, j, k, in mm.
    public var maxDisplacement: [Double]

    /// Creates the augmentation.
    public init(probability: Double = 0.5, controlPoints: Int = 7, maxDisplacement: [Double] = [7.5, 7.5, 7.5]) throws {
        try checkAugmentation(probability: probability, controlPoints >= 4 && maxDisplacement.count == 3 && maxDisplacement.allSatisfy { $0 >= 0 && $0.isFinite },
                              "controlPoints ≥ 4 and three non-negative maxDisplacement values (mm)")
        self.probability = probability
        self.controlPoints = controlPoints
        self.maxDisplacement = maxDisplacement
    }

    /// Draws and applies the deformation.
    public func apply(_ sample: AugmentationSample, using rng: inout SeededGenerator) throws -> AugmentationSample {
        let happens = rng.unit() < probability
        let k = controlPoints
        // One draw of every control displacement, whether or not the deformation happens, so that the
        // generator advances by the same amount either way.
        var control = [SIMD3<Double>](repeating: .zero, count: k * k * k)
        for n in 0..<control.count {
            control[n] = SIMD3(rng.uniform(-1...1) * maxDisplacement[0], rng.uniform(-1...1) * maxDisplacement[1], rng.uniform(-1...1) * maxDisplacement[2])
        }
        guard happens else { return sample }
        for c in 0..<k { for b in 0..<k { for a in 0..<k where [a, b, c].contains(0) || [a, b, c].contains(k - 1) {
            control[a + k * (b + k * c)] = .zero
        } } }
        return try Self.warp(sample, field: Field(control: control, controlPoints: k, geometry: sample.image.geometry))
    }

    /// Cubic B-spline basis weights of every voxel index on an axis of `length` voxels against `k` control
    /// points spread evenly from the first to the last voxel: a `length × k` matrix, row-major.
    static func weights(length: Int, controlPoints k: Int) -> [Double] {
        let h = Double(max(1, length - 1)) / Double(k - 1)
        var w = [Double](repeating: 0, count: length * k)
        for i in 0..<length {
            for c in 0..<k {
                let u = abs(Double(i) / h - Double(c))
                let b: Double
                if u < 1 { b = (4 - 6 * u * u + 3 * u * u * u) / 6 } else if u < 2 { b = (2 - u) * (2 - u) * (2 - u) / 6 } else { b = 0 }
                w[i * k + c] = b
            }
        }
        return w
    }

    /// Precomputed pieces of the displacement field: per-axis B-spline weights and the control grid.
    struct Field: Sendable {
        let size: SIMD3<Int>
        let k: Int
        let wx: [Double], wy: [Double], wz: [Double]
        let control: [SIMD3<Double>]
        let toIndex: SIMD3<Double>

        init(control: [SIMD3<Double>], controlPoints k: Int, geometry g: Geometry) {
            size = g.size
            self.k = k
            wx = weights(length: g.size.x, controlPoints: k)
            wy = weights(length: g.size.y, controlPoints: k)
            wz = weights(length: g.size.z, controlPoints: k)
            self.control = control
            toIndex = SIMD3(1 / g.spacing.x, 1 / g.spacing.y, 1 / g.spacing.z)
        }

        /// Displacements (index units) of the voxels of slice `z`, x fastest: the control grid contracted
        /// along z, then y, then x. One slice at a time keeps memory to a slice.
        func plane(_ z: Int) -> [SIMD3<Float>] {
            var plane = [SIMD3<Double>](repeating: .zero, count: k * k)
            for c in 0..<k where wz[z * k + c] != 0 {
                for n in 0..<(k * k) { plane[n] += wz[z * k + c] * control[n + k * k * c] }
            }
            var out = [SIMD3<Float>](repeating: .zero, count: size.x * size.y)
            var line = [SIMD3<Double>](repeating: .zero, count: k)
            for y in 0..<size.y {
                for a in 0..<k { line[a] = .zero }
                for b in 0..<k where wy[y * k + b] != 0 {
                    for a in 0..<k { line[a] += wy[y * k + b] * plane[a + k * b] }
                }
                for x in 0..<size.x {
                    var d = SIMD3<Double>.zero
                    for a in 0..<k where wx[x * k + a] != 0 { d += wx[x * k + a] * line[a] }
                    out[x + size.x * y] = SIMD3<Float>(d * toIndex)
                }
            }
            return out
        }
    }

    /// The displacement of every voxel in index units (i, j, k), x fastest (for inspection and tests).
    static func field(control: [SIMD3<Double>], controlPoints k: Int, geometry g: Geometry) -> [SIMD3<Float>] {
        let f = Field(control: control, controlPoints: k, geometry: g)
        return (0..<g.size.z).flatMap { f.plane($0) }
    }

    /// Samples image (linear) and label (nearest) at index + displacement, clamped to the grid, slice by
    /// slice in parallel. Besides the output, memory holds the input's float values and one int32 source
    /// index per voxel for the label.
    static func warp(_ sample: AugmentationSample, field: Field) throws -> AugmentationSample {
        let image = sample.image
        let s = image.geometry.size
        let frame = s.x * s.y * s.z, sliceSize = s.x * s.y
        let t = image.timePoints
        let values = image.physicalFloats()
        let hi = SIMD3<Float>(Float(s.x - 1), Float(s.y - 1), Float(s.z - 1))
        var warped = [Float](repeating: 0, count: frame * t)
        var sources = [Int32](repeating: 0, count: sample.label == nil ? 0 : frame)
        let hasLabel = sample.label != nil
        values.withUnsafeBufferPointer { src in
            warped.withUnsafeMutableBufferPointer { dst in
                sources.withUnsafeMutableBufferPointer { labelSource in
                    let input = Shared(src), output = Shared(dst), nearest = Shared(labelSource)
                    Parallel.perform(s.z) { z in
                        let displacement = field.plane(z)
                        for y in 0..<s.y {
                            for x in 0..<s.x {
                                let m = x + s.x * y
                                let p = pointwiseMin(hi, pointwiseMax(.zero, SIMD3(Float(x), Float(y), Float(z)) + displacement[m]))
                                let n = z * sliceSize + m
                                if hasLabel {
                                    let r = (p + 0.5).rounded(.down)
                                    nearest.value[n] = Int32(Int(r.x) + s.x * (Int(r.y) + s.y * Int(r.z)))
                                }
                                let f = p.rounded(.down)
                                let w = p - f
                                let x0 = Int(f.x), y0 = Int(f.y), z0 = Int(f.z)
                                let x1 = min(s.x - 1, x0 + 1), y1 = min(s.y - 1, y0 + 1), z1 = min(s.z - 1, z0 + 1)
                                for time in 0..<t {
                                    let base = time * frame
                                    func v(_ a: Int, _ b: Int, _ c: Int) -> Float { input.value[base + a + s.x * (b + s.y * c)] }
                                    let c00 = v(x0, y0, z0) + (v(x1, y0, z0) - v(x0, y0, z0)) * w.x
                                    let c10 = v(x0, y1, z0) + (v(x1, y1, z0) - v(x0, y1, z0)) * w.x
                                    let c01 = v(x0, y0, z1) + (v(x1, y0, z1) - v(x0, y0, z1)) * w.x
                                    let c11 = v(x0, y1, z1) + (v(x1, y1, z1) - v(x0, y1, z1)) * w.x
                                    let c0 = c00 + (c10 - c00) * w.y, c1 = c01 + (c11 - c01) * w.y
                                    output.value[base + n] = c0 + (c1 - c0) * w.z
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = try sample.withImageValues(warped)
        if let label = sample.label {
            let voxels = label.volume.voxels.gathered(count: frame) { Int(sources[$0]) }
            result.label = try LabelMap(Volume(geometry: label.geometry, voxels: voxels, metadata: label.volume.metadata))
        }
        return result
    }
}
