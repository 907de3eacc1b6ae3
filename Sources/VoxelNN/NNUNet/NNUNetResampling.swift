import Foundation
import VoxelSupport

/// Resampling exactly as nnU-Net v2's `resample_data_or_seg` does it, for arrays in (axis 0, axis 1, axis 2)
/// order with axis 2 fastest:
/// - `resize`: scikit-image's `resize(order, mode="edge", anti_aliasing=False)` — SciPy's `zoom` with
///   `grid_mode=True` (output voxel k samples input coordinate (k + 0.5)·in/out − 0.5), B-splines of order 0,
///   1 or 3 (order 3 pre-filtered on the input padded by 12 edge voxels, as SciPy does for mode "nearest"),
///   coordinates clamped at the border, the result clipped to the input's value range.
/// - the separate-z rule: when the spacing (current, else target) is anisotropic by more than 3× along exactly
///   one axis, each slice across that axis is resized in-plane and the axis itself is interpolated with
///   `order_z` (nearest by default), without clipping, as `map_coordinates` does.
/// Arithmetic is in double precision, as in nnU-Net.
public enum NNUNetResampling {
    /// nnU-Net's anisotropy threshold for the separate-z rule.
    public static let anisotropyThreshold = 3.0

    /// The axis to interpolate separately, or nil: nnU-Net's `determine_do_sep_z_and_axis` with
    /// `force_separate_z` nil (`force` true/false overrides the spacing test).
    public static func separateAxis(current: [Double], target: [Double], force: Bool? = nil) -> Int? {
        func lowres(_ s: [Double]) -> [Int] {
            let m = s.max() ?? 1
            return s.indices.filter { m / s[$0] == 1 }
        }
        func anisotropic(_ s: [Double]) -> Bool { (s.max() ?? 1) / (s.min() ?? 1) > anisotropyThreshold }
        var axes: [Int]
        if let force {
            guard force else { return nil }
            axes = lowres(current)
        } else if anisotropic(current) {
            axes = lowres(current)
        } else if anisotropic(target) {
            axes = lowres(target)
        } else {
            return nil
        }
        return axes.count == 1 ? axes[0] : nil
    }

    /// nnU-Net's `compute_new_shape`: `round(old spacing / new spacing × old shape)` per axis, halves to even.
    public static func newShape(_ shape: [Int], from spacing: [Double], to target: [Double]) -> [Int] {
        zip(zip(spacing, target), shape).map { pair, n in Int((pair.0 / pair.1 * Double(n)).rounded(.toNearestOrEven)) }
    }

    /// Resamples one channel of `shape` to `newShape` as `resample_data_or_seg` does for image data
    /// (`is_seg` false): plain `resize` with `order`, or the separate-z path along `separateAxis`.
    /// - Throws: `NNError.invalidInput` for an order other than 0, 1 or 3.
    public static func resample(_ data: [Double], shape: [Int], to newShape: [Int], order: Int, orderZ: Int, separateAxis: Int?) throws -> [Double] {
        guard [0, 1, 3].contains(order), [0, 1, 3].contains(orderZ) else {
            throw NNError.invalidInput("nnU-Net resampling: spline order \(order)/\(orderZ) is not supported (0, 1 or 3)")
        }
        if shape == newShape { return data }
        guard let axis = separateAxis else { return resize(data, shape: shape, to: newShape, order: order) }
        // In-plane resize of every slice across `axis` (each clipped to its own range), then along the axis.
        let (mid, inPlane) = eachSlice(data, shape: shape, to: newShape, across: axis) { resize($0, shape: $1, to: $2, order: order) }
        if shape[axis] == newShape[axis] { return mid }
        return resampleAxis(mid, shape: inPlane, axis: axis, to: newShape[axis], order: orderZ)
    }

    /// Resamples a label map as `resample_data_or_seg` does with `is_seg` (batchgenerators'
    /// `resize_segmentation`): each label's indicator is resized with `order` and every voxel takes the label
    /// with the highest value (the first on a tie), unless the nearest-neighbour label is among the highest
    /// (nnU-Net's "nearest" tie-break); on the separate-z path slices are resized that way in-plane and the
    /// axis itself by nearest neighbour (`order_z` 0).
    /// - Throws: `NNError.invalidInput` for orders other than 0, 1 or 3.
    public static func resampleSegmentation(_ seg: [Int], shape: [Int], to newShape: [Int], order: Int, orderZ: Int, separateAxis: Int?) throws -> [Int] {
        guard [0, 1, 3].contains(order), orderZ == 0 else {
            throw NNError.invalidInput("nnU-Net segmentation resampling: order \(order)/\(orderZ) is not supported (0, 1 or 3, and 0 along z)")
        }
        if shape == newShape { return seg }
        guard let axis = separateAxis else { return resizeSegmentation(seg, shape: shape, to: newShape, order: order) }
        let (mid, inPlane) = eachSlice(seg, shape: shape, to: newShape, across: axis) { resizeSegmentation($0, shape: $1, to: $2, order: order) }
        if shape[axis] == newShape[axis] { return mid }
        return resampleAxis(mid.map(Double.init), shape: inPlane, axis: axis, to: newShape[axis], order: 0).map { Int($0) }
    }

    /// The separate-z path's first half: every slice across `axis` resized in-plane to `newShape` by `resize`
    /// (given the slice as a `1 × U × V` array, its shape and the new one); returns the result and its shape
    /// (`newShape` with `axis` unchanged).
    static func eachSlice<T: Numeric>(_ data: [T], shape: [Int], to newShape: [Int], across axis: Int,
                                      resize: ([T], [Int], [Int]) -> [T]) -> ([T], [Int]) {
        var inPlane = shape
        for a in 0..<3 where a != axis { inPlane[a] = newShape[a] }
        let planeAxes = (0..<3).filter { $0 != axis }
        let sliceShape = planeAxes.map { shape[$0] }, newSliceShape = planeAxes.map { newShape[$0] }
        var mid = [T](repeating: 0, count: inPlane.reduce(1, *))
        let inStrides = strides(shape), midStrides = strides(inPlane)
        var slice = [T](repeating: 0, count: sliceShape[0] * sliceShape[1])
        for s in 0..<shape[axis] {
            var i = 0
            for u in 0..<sliceShape[0] { for v in 0..<sliceShape[1] {
                slice[i] = data[s * inStrides[axis] + u * inStrides[planeAxes[0]] + v * inStrides[planeAxes[1]]]
                i += 1
            } }
            let out = resize(slice, [1] + sliceShape, [1] + newSliceShape)
            i = 0
            for u in 0..<newSliceShape[0] { for v in 0..<newSliceShape[1] {
                mid[s * midStrides[axis] + u * midStrides[planeAxes[0]] + v * midStrides[planeAxes[1]]] = out[i]
                i += 1
            } }
        }
        return (mid, inPlane)
    }

    /// batchgenerators' `resize_segmentation` (argmax over the labels' resized indicators, "nearest" tie-break).
    static func resizeSegmentation(_ seg: [Int], shape: [Int], to newShape: [Int], order: Int) -> [Int] {
        let labels = Array(Set(seg)).sorted()
        if order == 0 || labels.count <= 1 {
            if labels.count == 1 { return [Int](repeating: labels[0], count: newShape.reduce(1, *)) }
            return resize(seg.map(Double.init), shape: shape, to: newShape, order: 0).map { Int($0) }
        }
        let nearest = resize(seg.map(Double.init), shape: shape, to: newShape, order: 0).map { Int($0) }
        let count = newShape.reduce(1, *)
        var best = [Double](repeating: -1, count: count), winner = [Int](repeating: labels[0], count: count)
        var nearestScore = [Double](repeating: 0, count: count)
        for c in labels {
            let score = resize(seg.map { $0 == c ? 1.0 : 0.0 }, shape: shape, to: newShape, order: order)
            for v in 0..<count {
                if score[v] > best[v] { best[v] = score[v]; winner[v] = c }
                if nearest[v] == c { nearestScore[v] = score[v] }
            }
        }
        for v in 0..<count where nearestScore[v] > 0 && nearestScore[v] == best[v] { winner[v] = nearest[v] }
        return winner
    }

    /// scikit-image's `resize(order, mode="edge", anti_aliasing=False, clip=True)` of a 3-D array.
    public static func resize(_ data: [Double], shape: [Int], to newShape: [Int], order: Int) -> [Double] {
        guard let lo = data.min(), let hi = data.max() else { return data }
        var out = data, current = shape
        for axis in 0..<3 where current[axis] != newShape[axis] {
            out = resampleAxis(out, shape: current, axis: axis, to: newShape[axis], order: order)
            current[axis] = newShape[axis]
        }
        for i in out.indices { out[i] = min(max(out[i], lo), hi) }
        return out
    }

    static func strides(_ shape: [Int]) -> [Int] { [shape[1] * shape[2], shape[2], 1] }

    /// Interpolates along one axis: output k samples (k + 0.5)·n/m − 0.5, clamped to [0, n − 1].
    static func resampleAxis(_ data: [Double], shape: [Int], axis: Int, to m: Int, order: Int) -> [Double] {
        let n = shape[axis]
        var outShape = shape
        outShape[axis] = m
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        let inStrides = strides(shape), outStrides = strides(outShape)
        let others = (0..<3).filter { $0 != axis }
        let scale = Double(n) / Double(m)
        // Taps and weights for every output position, shared by all lines.
        let pad = order == 3 ? 12 : 0
        var taps: [[Int]] = [], weights: [[Double]] = []
        for k in 0..<m {
            var c = (Double(k) + 0.5) * scale - 0.5 + Double(pad)
            let length = n + 2 * pad
            c = min(max(c, 0), Double(length - 1))
            switch order {
            case 0:
                taps.append([min(max(Int((c + 0.5).rounded(.down)), 0), length - 1)]); weights.append([1])
            case 1:
                let f = Int(c.rounded(.down)), t = c - Double(f)
                taps.append([f, min(f + 1, length - 1)]); weights.append([1 - t, t])
            default:
                let f = Int(c.rounded(.down)), t = c - Double(f)
                let w0 = (1 - t) * (1 - t) * (1 - t) / 6
                let w1 = (4 - 6 * t * t + 3 * t * t * t) / 6
                let w2 = (1 + 3 * t + 3 * t * t - 3 * t * t * t) / 6
                let w3 = t * t * t / 6
                taps.append((f - 1...f + 2).map { min(max($0, 0), length - 1) }); weights.append([w0, w1, w2, w3])
            }
        }
        // Lines are independent: the outer index is shared out between the cores, each with its own line.
        let outer = shape[others[0]], inner = shape[others[1]]
        let chunks = min(outer, max(1, ComputeBudget.threads * 4))
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let input = Shared(src), output = Shared(dst)
                let tapTable = Shared(taps), weightTable = Shared(weights)
                Parallel.perform(chunks) { chunk in
                    var line = [Double](repeating: 0, count: n + 2 * pad)
                    for a in (chunk * outer / chunks)..<((chunk + 1) * outer / chunks) {
                        for b in 0..<inner {
                            let inBase = a * inStrides[others[0]] + b * inStrides[others[1]]
                            let outBase = a * outStrides[others[0]] + b * outStrides[others[1]]
                            for i in 0..<n { line[pad + i] = input.value[inBase + i * inStrides[axis]] }
                            if pad > 0 {
                                for i in 0..<pad { line[i] = line[pad]; line[pad + n + i] = line[pad + n - 1] }
                                prefilterCubic(&line)
                            }
                            for k in 0..<m {
                                var v = 0.0
                                for (t, w) in zip(tapTable.value[k], weightTable.value[k]) { v += line[t] * w }
                                output.value[outBase + k * outStrides[axis]] = v
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Cubic B-spline interpolation coefficients in place (pole √3 − 2, gain 6), mirror boundaries as SciPy's
    /// `spline_filter1d`.
    static func prefilterCubic(_ c: inout [Double]) {
        let n = c.count
        guard n > 1 else { return }
        let z = 3.0.squareRoot() - 2
        for i in 0..<n { c[i] *= 6 }
        // Causal initialisation (mirror boundary), truncated where z^k is negligible.
        var zk = z, sum = c[0]
        let horizon = min(n, 40)
        for k in 1..<horizon { sum += zk * c[k]; zk *= z }
        c[0] = sum
        for i in 1..<n { c[i] += z * c[i - 1] }
        c[n - 1] = (z / (z * z - 1)) * (c[n - 1] + z * c[n - 2])
        for i in stride(from: n - 2, through: 0, by: -1) { c[i] = z * (c[i + 1] - c[i]) }
    }
}
