import Foundation
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelSupport

/// Times `SegmentationEvaluator.evaluate` (every overlap, volume and surface metric of every label) on two label
/// maps already in memory, and dumps the per-label surface metrics for the value check in Benchmarks/metrics.py.
/// `--roundtrip` makes the prediction from the reference by nearest-neighbour to 2 × 2 × 3 voxels and back
/// (pred[i, j, k] = ref[2 (i / 2), 2 (j / 2), 3 (k / 3)]), as the Python side does.
enum MetricsBenchmark {
    static func run(reference referencePath: String, prediction predictionPath: String?, repeats: Int, tolerance: Double, dump: String?) throws {
        let reference = try LabelMap(NIfTI.read(referencePath).volume)
        let prediction: LabelMap
        if let predictionPath {
            prediction = try LabelMap(NIfTI.read(predictionPath).volume)
        } else {
            var v = reference.volume
            let s = v.geometry.size
            let n = s.x * s.y * s.z
            var out = [Int32](repeating: 0, count: n)
            for k in 0..<s.z {
                for j in 0..<s.y {
                    for i in 0..<s.x {
                        out[i + s.x * (j + s.y * k)] = Int32(reference.label(2 * (i / 2), 2 * (j / 2), 3 * (k / 3)))
                    }
                }
            }
            try v.replaceVoxels(.int32(out))
            prediction = try LabelMap(v)
        }
        var times: [Double] = []
        var last: SegmentationEvaluation?
        for _ in 0..<repeats {
            times.append(try seconds {
                last = try SegmentationEvaluator.evaluate(prediction: prediction, reference: reference, options: .init(tolerance: tolerance))
            })
        }
        if let dump, let last {
            let rows: [[String: Any]] = last.labels.map {
                ["label": $0.label, "hd95": $0.hausdorffPercentile ?? -1, "assd": $0.averageSurfaceDistance ?? -1,
                 "nsd": $0.surfaceDice ?? -1, "dice": $0.dice]
            }
            let data = try JSONSerialization.data(withJSONObject: rows)
            try data.write(to: URL(fileURLWithPath: dump))
        }
        emit(["tool": "voxelflow", "op": "evaluate", "labels": last?.labels.count ?? 0, "times": times,
              "best": times.min() ?? 0, "threads": ComputeBudget.threads])
    }
}
