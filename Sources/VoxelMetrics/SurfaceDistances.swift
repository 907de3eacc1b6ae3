import VoxelCore

/// The distances between the surfaces of one label in a prediction and in a reference, in mm.
///
/// A surface voxel is a voxel of the label with at least one of its six face neighbours outside the label or
/// outside the grid (the voxels a binary erosion with the 6-connected cross removes, as MONAI and
/// scipy compute edges). `predictedToReference[n]` is the distance from the centre of the n-th predicted
/// surface voxel to the centre of the nearest reference surface voxel, from an exact Euclidean distance transform
/// of the reference surface; `referenceToPredicted` the other way. On a sheared grid (axes not orthogonal) the
/// distances come from an exact nearest-point search over the surface voxels' world positions instead.
struct SurfaceDistances {
    var predictedToReference: [Double]
    var referenceToPredicted: [Double]

    /// Measures label `label` inside the inclusive voxel box `lower...upper` (the union of both masks' voxels;
    /// the box is widened by one voxel here so that the masks' borders are inside it).
    /// `sheared`: the grid's voxel-to-world linear map when its axes are not orthogonal (nil otherwise).
    init(prediction: [UInt16], reference: [UInt16], label: UInt16, size: SIMD3<Int>, spacing: SIMD3<Double>,
         lower: SIMD3<Int32>, upper: SIMD3<Int32>, sheared: Matrix3? = nil) {
        let crop = LabelBox(lower: lower, upper: upper, size: size)
        let box = crop.box
        let p = crop.mask(prediction, label: label, size: size), r = crop.mask(reference, label: label, size: size)
        let pSurface = SurfaceDistances.surface(of: p, box: box), rSurface = SurfaceDistances.surface(of: r, box: box)
        if let sheared {
            func world(_ mask: [UInt8]) -> [SIMD3<Double>] {
                (0..<mask.count).filter { mask[$0] != 0 }.map { n in
                    sheared * SIMD3(Double(n % box.x), Double((n / box.x) % box.y), Double(n / (box.x * box.y)))
                }
            }
            let pPoints = world(pSurface), rPoints = world(rSurface)
            let toReference = NearestPointSearch(rPoints), toPrediction = NearestPointSearch(pPoints)
            predictedToReference = pPoints.map { toReference.distance(to: $0) }
            referenceToPredicted = rPoints.map { toPrediction.distance(to: $0) }
            return
        }
        predictedToReference = SurfaceDistances.distances(from: pSurface, to: rSurface, box: box, spacing: spacing)
        referenceToPredicted = SurfaceDistances.distances(from: rSurface, to: pSurface, box: box, spacing: spacing)
    }

    /// The mask's surface voxels (1) in a box whose outside counts as background.
    static func surface(of mask: [UInt8], box: SIMD3<Int>) -> [UInt8] {
        let (nx, ny, nz) = (box.x, box.y, box.z)
        var out = [UInt8](repeating: 0, count: mask.count)
        for k in 0..<nz {
            for j in 0..<ny {
                let base = nx * (j + ny * k)
                for i in 0..<nx where mask[base + i] != 0 {
                    let n = base + i
                    let interior = i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1
                        && mask[n - 1] != 0 && mask[n + 1] != 0 && mask[n - nx] != 0 && mask[n + nx] != 0
                        && mask[n - nx * ny] != 0 && mask[n + nx * ny] != 0
                    if !interior { out[n] = 1 }
                }
            }
        }
        return out
    }

    /// For every voxel of `from`, the distance (mm) to the nearest voxel of `to`.
    static func distances(from: [UInt8], to: [UInt8], box: SIMD3<Int>, spacing: SIMD3<Double>) -> [Double] {
        let squared = EuclideanDistanceTransform.squaredDistances(features: to, size: box, spacing: spacing)
        var out: [Double] = []
        for n in 0..<from.count where from[n] != 0 { out.append(squared[n].squareRoot()) }
        return out
    }
}

/// The inclusive voxel box `lower...upper` widened by one voxel and clipped to the grid: the region a label's
/// surfaces and distances are measured in.
struct LabelBox {
    /// First voxel of the box and its size along i, j, k.
    let origin: SIMD3<Int>
    let box: SIMD3<Int>

    init(lower: SIMD3<Int32>, upper: SIMD3<Int32>, size: SIMD3<Int>) {
        origin = SIMD3(max(0, Int(lower.x) - 1), max(0, Int(lower.y) - 1), max(0, Int(lower.z) - 1))
        let hi = SIMD3<Int>(min(size.x - 1, Int(upper.x) + 1), min(size.y - 1, Int(upper.y) + 1), min(size.z - 1, Int(upper.z) + 1))
        box = hi &- origin &+ 1
    }

    /// 1 where `indices` (a whole grid of `size`) holds `label`, inside the box (i fastest).
    func mask(_ indices: [UInt16], label: UInt16, size: SIMD3<Int>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: box.x * box.y * box.z)
        for k in 0..<box.z {
            for j in 0..<box.y {
                let src = origin.x + size.x * (origin.y + j + size.y * (origin.z + k)), dst = box.x * (j + box.y * k)
                for i in 0..<box.x where indices[src + i] == label { out[dst + i] = 1 }
            }
        }
        return out
    }
}
