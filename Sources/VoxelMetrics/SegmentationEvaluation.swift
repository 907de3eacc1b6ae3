import VoxelCore
import VoxelSupport

/// Which of prediction and reference hold a label: decides how metrics that would divide by zero are set.
public enum LabelPresence: String, Sendable, Codable, Equatable {
    /// Both masks hold voxels of the label: every metric is computed.
    case both
    /// Neither holds the label: a correct "absent". Dice, IoU, surface Dice and volume similarity are 1, the surface
    /// distances 0; precision and sensitivity are undefined (0/0, `nil`).
    case neither
    /// Only the prediction holds it (a false detection): Dice, IoU, surface Dice 0; the surface distances take their
    /// worst value, the grid's diagonal; sensitivity and the relative volume difference are undefined.
    case predictionOnly = "prediction-only"
    /// Only the reference holds it (a miss): Dice, IoU, surface Dice, sensitivity 0; the surface distances take the
    /// grid's diagonal; precision is undefined.
    case referenceOnly = "reference-only"
}

/// What `SegmentationEvaluator` measures and how.
public struct SegmentationEvaluationOptions: Sendable, Equatable {
    /// Label values to measure; `nil`: every non-zero value present in either map.
    public var labels: [Int]?
    /// Normalised surface Dice tolerance in mm: surface voxels within it of the other surface count as correct.
    public var tolerance: Double
    /// The percentile of the Hausdorff distance reported beside the maximum (0…100; 95 by convention).
    public var percentile: Double
    /// Whether to compute the surface metrics (Hausdorff, percentile, ASSD, surface Dice); the overlap and volume
    /// metrics are always computed.
    public var surfaceMetrics: Bool

    /// Options with the conventional defaults: every label, 1 mm tolerance, HD95, surface metrics on.
    public init(labels: [Int]? = nil, tolerance: Double = 1, percentile: Double = 95, surfaceMetrics: Bool = true) {
        self.labels = labels
        self.tolerance = tolerance
        self.percentile = percentile
        self.surfaceMetrics = surfaceMetrics
    }
}

/// The agreement between a predicted and a reference segmentation for one label. Volumes in mm³, distances in mm.
///
/// Overlap metrics come from voxel counts: Dice = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN),
/// precision = TP / (TP + FP), sensitivity = TP / (TP + FN), specificity = TN / (TN + FP). Surface metrics come
/// from the exact Euclidean distances between surface voxels (see `presence` for empty masks): the Hausdorff
/// distance is the larger of the two directed maxima; its percentile the larger of the two directed percentiles;
/// the average symmetric surface distance the mean of both directions' distances together; the normalised surface
/// Dice the fraction of both surfaces' voxels within `tolerance` of the other surface. These are the definitions of
/// MONAI's `compute_hausdorff_distance`, `compute_average_surface_distance(symmetric=True)` and
/// `compute_surface_dice` with Euclidean distances and the grid's spacing.
public struct LabelEvaluation: Sendable, Equatable, Codable {
    /// The label value.
    public var label: Int
    /// Which maps hold the label.
    public var presence: LabelPresence
    /// Voxels of the label in the reference.
    public var referenceVoxels: Int
    /// Voxels of the label in the prediction.
    public var predictedVoxels: Int
    /// Voxels of the label in both.
    public var truePositives: Int
    /// Predicted voxels outside the reference label.
    public var falsePositives: Int
    /// Reference voxels the prediction missed.
    public var falseNegatives: Int
    /// Voxels outside the label in both.
    public var trueNegatives: Int
    /// Dice similarity coefficient (0…1).
    public var dice: Double
    /// Intersection over union, the Jaccard index (0…1).
    public var iou: Double
    /// Positive predictive value; `nil` when the prediction is empty.
    public var precision: Double?
    /// Recall, true positive rate; `nil` when the reference is empty.
    public var sensitivity: Double?
    /// True negative rate; `nil` only when the label covers the whole grid in the reference.
    public var specificity: Double?
    /// Reference volume (mm³).
    public var referenceVolume: Double
    /// Predicted volume (mm³).
    public var predictedVolume: Double
    /// Predicted minus reference volume (mm³): positive when the prediction is too large.
    public var volumeDifference: Double
    /// `volumeDifference / referenceVolume`; `nil` when the reference is empty.
    public var relativeVolumeDifference: Double?
    /// 1 − |Vp − Vr| / (Vp + Vr) (0…1; 1 when both are empty).
    public var volumeSimilarity: Double
    /// Surface voxels of the reference (0 when surface metrics are off).
    public var referenceSurfaceVoxels: Int
    /// Surface voxels of the prediction.
    public var predictedSurfaceVoxels: Int
    /// Hausdorff distance (mm); `nil` when surface metrics are off.
    public var hausdorff: Double?
    /// The options' percentile of the Hausdorff distance (mm), HD95 by default.
    public var hausdorffPercentile: Double?
    /// Average symmetric surface distance (mm).
    public var averageSurfaceDistance: Double?
    /// Normalised surface Dice at the options' tolerance (0…1).
    public var surfaceDice: Double?
}

/// The evaluation of one predicted segmentation against its reference.
public struct SegmentationEvaluation: Sendable, Equatable {
    /// One entry per evaluated label, in the order of the options' labels (ascending when found automatically).
    public var labels: [LabelEvaluation]
    /// The grid both maps share.
    public var geometry: Geometry
    /// The options used.
    public var options: SegmentationEvaluationOptions
    /// The distance given to a surface metric when one of the masks is empty: the grid's longest diagonal (mm).
    public var worstDistance: Double
}

/// Measures predicted segmentations against references, label by label.
public enum SegmentationEvaluator {
    /// Evaluates `prediction` against `reference` on their common grid.
    /// - Throws: `MetricsError.gridMismatch` when the grids differ (size, or world mapping beyond 1e-3 mm);
    ///   `.invalidOption` for a
    ///   negative tolerance, a percentile outside 0…100 or a label outside 1…65535, or more than 65535 labels.
    /// Labels are measured in parallel on up to `ComputeBudget.threads` threads.
    public static func evaluate(prediction: LabelMap, reference: LabelMap,
                                options: SegmentationEvaluationOptions = .init()) throws(MetricsError) -> SegmentationEvaluation {
        let grid = reference.geometry
        guard prediction.geometry.size == grid.size, prediction.geometry.affine.maxAbsDifference(to: grid.affine) < 1e-3 else {
            throw .gridMismatch(prediction: prediction.geometry, reference: grid)
        }
        guard options.tolerance >= 0, options.tolerance.isFinite else {
            throw .invalidOption("the surface Dice tolerance must be a distance of 0 mm or more, got \(options.tolerance)")
        }
        guard (0...100).contains(options.percentile) else {
            throw .invalidOption("the Hausdorff percentile must be within 0…100, got \(options.percentile)")
        }
        let labels = options.labels ?? Array(Set(prediction.labelsPresent() + reference.labelsPresent()).subtracting([0])).sorted()
        if let bad = labels.first(where: { $0 < 1 || $0 > 65535 }) {
            throw .invalidOption("label \(bad) cannot be evaluated: labels are 1…65535 (0 is background)")
        }
        guard Set(labels).count == labels.count else { throw .invalidOption("a label is listed twice in \(labels)") }
        // A sheared grid's axes are not orthogonal: its surface distances are measured between world positions.
        let sheared: Matrix3? = grid.direction.hasOrthogonalColumns ? nil
            : Matrix3(columns: grid.direction.column(0) * grid.spacing.x, grid.direction.column(1) * grid.spacing.y, grid.direction.column(2) * grid.spacing.z)

        let p = LabelIndex(prediction, labels: labels).indices, r = LabelIndex(reference, labels: labels).indices
        let counts = OverlapCounts(prediction: p, reference: r, labelCount: labels.count, size: grid.size)
        // |det| of the voxel-to-world map: spacing product × |det(direction)| (1 for orthonormal axes, less when sheared).
        let voxelVolume = grid.spacing.x * grid.spacing.y * grid.spacing.z * abs(grid.direction.determinant)
        let total = grid.voxelCount
        let worst = grid.longestDiagonal

        // Surface distances per label, the largest boxes first so that the threads finish together.
        var distances = [SurfaceDistances?](repeating: nil, count: labels.count)
        if options.surfaceMetrics {
            let measured = (0..<labels.count).filter { counts.predicted[$0 + 1] > 0 && counts.reference[$0 + 1] > 0 }
            let order = measured.sorted { boxVolume(counts, $0 + 1) > boxVolume(counts, $1 + 1) }
            distances.withUnsafeMutableBufferPointer { buffer in
                let out = Shared(buffer)
                Parallel.perform(order.count) { n in
                    let l = order[n]
                    out.value[l] = SurfaceDistances(prediction: p, reference: r, label: UInt16(l + 1), size: grid.size,
                                                    spacing: grid.spacing, lower: counts.lower[l + 1], upper: counts.upper[l + 1], sheared: sheared)
                }
            }
        }

        var results: [LabelEvaluation] = []
        for (n, value) in labels.enumerated() {
            let l = n + 1
            let tp = counts.truePositives[l], predicted = counts.predicted[l], referenced = counts.reference[l]
            let fp = predicted - tp, fn = referenced - tp, tn = total - tp - fp - fn
            let presence: LabelPresence = predicted > 0 ? (referenced > 0 ? .both : .predictionOnly) : (referenced > 0 ? .referenceOnly : .neither)
            func ratio(_ a: Int, _ b: Int) -> Double? { b > 0 ? Double(a) / Double(b) : nil }
            let vp = Double(predicted) * voxelVolume, vr = Double(referenced) * voxelVolume
            var e = LabelEvaluation(
                label: value, presence: presence, referenceVoxels: referenced, predictedVoxels: predicted,
                truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn,
                dice: ratio(2 * tp, 2 * tp + fp + fn) ?? 1, iou: ratio(tp, tp + fp + fn) ?? 1,
                precision: ratio(tp, tp + fp), sensitivity: ratio(tp, tp + fn), specificity: ratio(tn, tn + fp),
                referenceVolume: vr, predictedVolume: vp, volumeDifference: vp - vr,
                relativeVolumeDifference: referenced > 0 ? (vp - vr) / vr : nil,
                volumeSimilarity: predicted + referenced > 0 ? 1 - Double(abs(predicted - referenced)) / Double(predicted + referenced) : 1,
                referenceSurfaceVoxels: 0, predictedSurfaceVoxels: 0,
                hausdorff: nil, hausdorffPercentile: nil, averageSurfaceDistance: nil, surfaceDice: nil)
            if options.surfaceMetrics {
                switch presence {
                case .neither:
                    (e.hausdorff, e.hausdorffPercentile, e.averageSurfaceDistance, e.surfaceDice) = (0, 0, 0, 1)
                case .predictionOnly, .referenceOnly:
                    (e.hausdorff, e.hausdorffPercentile, e.averageSurfaceDistance, e.surfaceDice) = (worst, worst, worst, 0)
                    e.predictedSurfaceVoxels = presence == .predictionOnly ? SurfaceCount.of(p, label: UInt16(l), counts: counts, size: grid.size) : 0
                    e.referenceSurfaceVoxels = presence == .referenceOnly ? SurfaceCount.of(r, label: UInt16(l), counts: counts, size: grid.size) : 0
                case .both:
                    if let d = distances[n] { e.fill(from: d, options: options) }
                }
            }
            results.append(e)
        }
        return SegmentationEvaluation(labels: results, geometry: grid, options: options, worstDistance: worst)
    }

    private static func boxVolume(_ c: OverlapCounts, _ l: Int) -> Int {
        let extent = c.upper[l] &- c.lower[l] &+ 1
        return Int(extent.x) * Int(extent.y) * Int(extent.z)
    }
}

extension LabelEvaluation {
    /// Sets the surface metrics from both directions' distances.
    mutating func fill(from d: SurfaceDistances, options: SegmentationEvaluationOptions) {
        let forward = d.predictedToReference.sorted(), backward = d.referenceToPredicted.sorted()
        predictedSurfaceVoxels = forward.count
        referenceSurfaceVoxels = backward.count
        hausdorff = max(forward.last ?? 0, backward.last ?? 0)
        let q = options.percentile / 100
        hausdorffPercentile = max(SampleStatistics.quantile(sorted: forward, q) ?? 0, SampleStatistics.quantile(sorted: backward, q) ?? 0)
        let all = forward.count + backward.count
        averageSurfaceDistance = all > 0 ? (forward.reduce(0, +) + backward.reduce(0, +)) / Double(all) : 0
        let within = forward.prefix { $0 <= options.tolerance }.count + backward.prefix { $0 <= options.tolerance }.count
        surfaceDice = all > 0 ? Double(within) / Double(all) : 1
    }
}

/// Surface voxel counts of a label present in one map only.
enum SurfaceCount {
    static func of(_ indices: [UInt16], label: UInt16, counts: OverlapCounts, size: SIMD3<Int>) -> Int {
        let crop = LabelBox(lower: counts.lower[Int(label)], upper: counts.upper[Int(label)], size: size)
        let mask = crop.mask(indices, label: label, size: size)
        return SurfaceDistances.surface(of: mask, box: crop.box).reduce(0) { $0 + Int($1) }
    }
}

extension Matrix3 {
    /// Whether the columns are pairwise orthogonal (to 1e-4): true for scanner grids, rotated or not.
    var hasOrthogonalColumns: Bool {
        let c = (0..<3).map { column($0) }
        func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
        return abs(dot(c[0], c[1])) < 1e-4 && abs(dot(c[0], c[2])) < 1e-4 && abs(dot(c[1], c[2])) < 1e-4
    }
}

extension Geometry {
    /// The longest distance between two voxel centres of the grid (mm): the longest of its four body diagonals.
    var longestDiagonal: Double {
        let extent = SIMD3<Double>(Double(size.x - 1), Double(size.y - 1), Double(size.z - 1)) * spacing
        var longest = 0.0
        for signs in [SIMD3<Double>(1, 1, 1), SIMD3(-1, 1, 1), SIMD3(1, -1, 1), SIMD3(1, 1, -1)] {
            let v = direction * (extent * signs)
            longest = max(longest, (v * v).sum().squareRoot())
        }
        return longest
    }
}
