// voxelflow-bench: times VoxelFlow operations for the side-by-side benchmark scripts in Benchmarks/.
// Prints one JSON object per run on standard output. Not a test: never asserts on time.
//
//   voxelflow-bench nifti-read FILE [--repeat N] [--dump RAW]
//   voxelflow-bench nifti-write FILE OUT [--repeat N] [--level L]
//   voxelflow-bench dicom-load DIR [--repeat N] [--dump RAW]     (scan + assemble + decode one series)
//   voxelflow-bench dicom-scan DIR [--repeat N]                  (headers only)
//   voxelflow-bench reorient FILE CODE [--repeat N]             (reorientation vs a plain copy of the voxels)
//   voxelflow-bench resample FILE SPACING [--repeat N] [--dump RAW] [--nearest | --bspline]  (resample only, not I/O)
//   voxelflow-bench network WEIGHTS.safetensors [--repeat N] [--dump RAW]  (forward of the network described in the file's
//       metadata on its `input`)
//   voxelflow-bench window-memory D H W CLASSES  (peak memory of streamed sliding-window labels, synthetic input)
//   voxelflow-bench layers [--set basicunet|nnunet|segresnet|dynunet] [--repeat N]  (per-layer time, GFLOP/s and
//       fraction of sgemm's measured peak of a network's convolutions)
//   voxelflow-bench sliding-window WEIGHTS.safetensors [--repeat N] [--dump RAW]  (sliding-window inference with the
//       settings in the file's metadata `window`)
//   voxelflow-bench memory FILE TRANSFORM   (peak resident memory of one transform beyond the loaded input)
//   voxelflow-bench train-step WEIGHTS.safetensors [--repeat N]  (N training steps: forward, DiceCE, backward, Adam)
//   voxelflow-bench evaluate REF [PRED | --roundtrip] [--repeat N] [--tolerance MM] [--dump JSON]  (all segmentation
//       metrics of all labels, label maps in memory)
//   voxelflow-bench seg-write LABELS SERIES OUT [--type binary|labelmap] [--repeat N]  (DICOM SEG written from a label
//       map already in memory on a series already scanned: the library call alone, as highdicom's in-memory timing)
//   voxelflow-bench seg-read SEG SERIES [--repeat N]  (a SEG read onto a series already scanned, library call alone)
import Foundation
import VoxelCore
import VoxelIO
import VoxelTransforms
import VoxelSupport

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func option(_ name: String, in args: [String]) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func emit(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

let args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else {
    FileHandle.standardError.write(Data("usage: voxelflow-bench nifti-read FILE | nifti-write FILE OUT\n".utf8))
    exit(64)
}
let repeats = Int(option("--repeat", in: args) ?? "3") ?? 3

do {
    switch command {
    case "nifti-read":
        let file = args[1]
        var times: [Double] = []
        var last: NIfTIImage?
        for _ in 0..<repeats {
            times.append(try seconds { last = try NIfTI.read(file) })
        }
        if let dump = option("--dump", in: args), let image = last {
            try image.volume.voxels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dump)) }
        }
        emit(["tool": "voxelflow", "op": "read", "file": file, "times": times, "best": times.min() ?? 0,
              "threads": System.coreCount])
    case "nifti-write":
        let file = args[1], out = args[2]
        let level = Int(option("--level", in: args) ?? "\(Gzip.defaultLevel)") ?? Gzip.defaultLevel
        let image = try NIfTI.read(file)
        var times: [Double] = []
        for _ in 0..<repeats {
            times.append(try seconds {
                try NIfTI.write(image.volume, to: out, options: NIfTIWriteOptions(compressionLevel: level))
            })
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        emit(["tool": "voxelflow", "op": "write", "file": out, "times": times, "best": times.min() ?? 0,
              "level": level, "bytes": size, "threads": System.coreCount])
    case "dicom-load":
        let dir = args[1]
        var times: [Double] = []
        var last: Volume?
        for _ in 0..<repeats {
            times.append(try seconds {
                let scan = try DICOMScanner.scan(dir)
                guard let stack = scan.stacks.first else { throw DICOMError(path: dir, reason: "no series") }
                last = try stack.volume()
            })
        }
        if let dump = option("--dump", in: args), let v = last {
            try v.voxels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dump)) }
        }
        emit(["tool": "voxelflow", "op": "dicom-load", "dir": dir, "times": times, "best": times.min() ?? 0,
              "shape": last?.shape ?? [], "dtype": last?.voxelType.rawValue ?? "", "threads": System.coreCount])
    case "reorient":
        let volume = try NIfTI.read(args[1]).volume
        let transform = try Reorient(target: args[2])
        var times: [Double] = [], copies: [Double] = []
        for _ in 0..<repeats {
            times.append(try seconds { _ = try transform.apply(volume) })
            copies.append(seconds {
                let copy = volume.voxels.withUnsafeBytes { [UInt8]($0) }
                precondition(copy.count > 0)
            })
        }
        emit(["tool": "voxelflow", "op": "reorient", "times": times, "best": times.min() ?? 0,
              "copy_best": copies.min() ?? 0, "threads": System.coreCount])
    case "resample":
        let file = args[1]
        let spacing = Double(args[2]) ?? 1
        let volume = try NIfTI.read(file).volume
        let transform = try Resample(spacing: [spacing, spacing, spacing], interpolation: args.contains("--nearest") ? .nearest : (args.contains("--bspline") ? .bspline : .linear))
        var times: [Double] = []
        var last: Volume?
        for _ in 0..<repeats {
            times.append(try seconds { last = try transform.apply(volume).volume })
        }
        if let dump = option("--dump", in: args), let v = last {
            try v.voxels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dump)) }
        }
        let g = last?.geometry
        emit(["tool": "voxelflow", "op": "resample", "times": times, "best": times.min() ?? 0,
              "grid": ["size": g.map { [$0.size.x, $0.size.y, $0.size.z] } ?? [], "spacing": g.map { [$0.spacing.x, $0.spacing.y, $0.spacing.z] } ?? [],
                       "origin": g.map { [$0.origin.x, $0.origin.y, $0.origin.z] } ?? [], "direction": g?.direction.values ?? []],
              "threads": System.coreCount])
    case "dicom-scan":
        let dir = args[1]
        var times: [Double] = []
        var files = 0, stacks = 0
        for _ in 0..<repeats {
            times.append(try seconds {
                let scan = try DICOMScanner.scan(dir)
                files = scan.filesScanned
                stacks = scan.stacks.count
            })
        }
        emit(["tool": "voxelflow", "op": "dicom-scan", "dir": dir, "times": times, "best": times.min() ?? 0,
              "files": files, "stacks": stacks, "threads": System.coreCount])
    case "network":
        try NetworkBenchmark.network(weightsPath: args[1], repeats: repeats, dump: option("--dump", in: args))
    case "window-memory":
        try WindowMemoryBenchmark.run(size: args[1...3].compactMap { Int($0) }, classes: Int(args[4]) ?? 2)
    case "layers":
        try LayerBenchmark.run(repeats: repeats, set: option("--set", in: args) ?? "basicunet")
    case "sliding-window":
        try NetworkBenchmark.slidingWindow(weightsPath: args[1], repeats: repeats, dump: option("--dump", in: args))
    case "memory":
        try TransformMemory.run(file: args[1], transform: args[2])
    case "train-step":
        try TrainingBenchmark.run(weightsPath: args[1], steps: repeats)
    case "evaluate":
        try MetricsBenchmark.run(reference: args[1], prediction: args.count > 2 && !args[2].hasPrefix("--") ? args[2] : nil,
                                 repeats: repeats, tolerance: Double(option("--tolerance", in: args) ?? "1") ?? 1,
                                 dump: option("--dump", in: args))
    case "seg-write":
        let labels = try LabelMap(try NIfTI.read(args[1]).volume), stack = try DICOMSeriesChoice.load(args[2], selector: nil)
        var options = DICOMSegmentationOptions()
        options.type = option("--type", in: args) == "labelmap" ? .labelMap : .binary
        var times: [Double] = [], frames = 0
        for _ in 0..<repeats {
            times.append(try seconds { frames = try DICOMSegmentation.write(labels, reference: stack, to: args[3], options: options) })
        }
        emit(["tool": "voxelflow", "op": "seg-write", "times": times, "best": times.min() ?? 0, "frames": frames])
    case "seg-read":
        let stack = try DICOMSeriesChoice.load(args[2], selector: nil)
        var times: [Double] = [], voxels = 0
        for _ in 0..<repeats {
            times.append(try seconds { voxels = try DICOMSegmentation.read(args[1], reference: stack).labels.volume.voxels.count })
        }
        emit(["tool": "voxelflow", "op": "seg-read", "times": times, "best": times.min() ?? 0, "voxels": voxels])
    default:
        FileHandle.standardError.write(Data("unknown benchmark \(command)\n".utf8))
        exit(64)
    }
} catch {
    FileHandle.standardError.write(Data("voxelflow-bench: \(error)\n".utf8))
    exit(2)
}
