import Foundation
import VoxelCore
import VoxelIO
import VoxelTransforms
import VoxelSupport

/// Peak memory of one transform: the input (and, for label transforms, a bone mask made from it) is loaded
/// first, the kernel's peak-RSS counter is reset (`/proc/self/clear_refs`), the transform runs, and the new
/// peak is compared with the resident size before it. Run one transform per process.
enum TransformMemory {
    static func status(_ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return (digits.first ?? 0) * 1024
        }
        return 0
    }

    static func run(file: String, transform: String) throws {
        let image = try NIfTI.read(file).volume
        let n = image.geometry.voxelCount
        let mask = try LabelMap(Volume(geometry: image.geometry, voxels: .uint8((0..<n).map { image.value($0 % image.geometry.size.x, $0 / image.geometry.size.x % image.geometry.size.y, $0 / (image.geometry.size.x * image.geometry.size.y)) > 300 ? 1 : 0 })))
        let work: () throws -> Volume
        switch transform {
        case "reorient-RAS": work = { try Reorient(target: "RAS").apply(image).volume }
        case "reorient-SPR": work = { try Reorient(target: "SPR").apply(image).volume }
        case "resample-linear": work = { try Resample(spacing: [1, 1, 1], interpolation: .linear).apply(image).volume }
        case "resample-nearest": work = { try Resample(spacing: [1, 1, 1], interpolation: .nearest).apply(image).volume }
        case "resample-bspline": work = { try Resample(spacing: [1, 1, 1], interpolation: .bspline).apply(image).volume }
        case "resample-antialias": work = { try Resample(spacing: [2, 2, 2], interpolation: .linear, antialias: true).apply(image).volume }
        case "crop-or-pad": work = { try CropOrPad(size: [400, 400, 300]).plan(for: image.geometry).apply(image) }
        case "crop-foreground": work = { let c = try CropForeground(threshold: -500, margin: 5); return try c.plan(for: image).apply(image) }
        case "ct-window": work = { try ScaleIntensityRange.ctWindow(level: 40, width: 400).apply(image) }
        case "normalize": work = { try NormalizeIntensity().apply(image) }
        case "percentile-normalize": work = { try PercentileNormalize().apply(image) }
        case "gaussian-smooth": work = { try GaussianSmooth(sigma: [1, 1, 1]).apply(image) }
        case "connected-components": work = { try ConnectedComponents().apply(mask).labels.volume }
        case "keep-largest": work = { try KeepLargestComponent().apply(mask).volume }
        case "fill-holes": work = { try FillHoles().apply(mask).volume }
        case "dilate": work = { try BinaryMorphology(.dilate).apply(mask).volume }
        case "remove-small": work = { try RemoveSmallComponents(minimumMillilitres: 1).apply(mask).volume }
        case "random-affine":
            work = { var rng = SeededGenerator(seed: 1); return try RandomAffine(probability: 1).apply(AugmentationSample(image: image, label: mask), using: &rng).image }
        case "elastic":
            work = { var rng = SeededGenerator(seed: 1); return try RandomElasticDeformation(probability: 1).apply(AugmentationSample(image: image, label: mask), using: &rng).image }
        default:
            throw TransformError.invalidParameter("unknown transform \(transform)")
        }
        let before = status("VmRSS")
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let output = try work()
        let peak = status("VmHWM")
        let outputBytes = output.voxels.withUnsafeBytes { $0.count }
        let extra = peak - before - outputBytes
        emit(["tool": "voxelflow", "op": "memory", "transform": transform, "rss_before": before, "peak": peak,
              "output_bytes": outputBytes, "extra_bytes": extra, "extra_over_output": Double(extra) / Double(max(1, outputBytes))])
    }
}
