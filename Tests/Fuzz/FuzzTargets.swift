import Foundation
import VoxelCatalog
import VoxelIO
import VoxelNN
import VoxelPipeline

/// The parsers VoxelFlow exposes to untrusted bytes, each as one fuzz target. Every target must turn any input
/// into a value or a typed error: a crash, a hang or an unbounded allocation is a bug.
enum FuzzTargets {
    /// Target names, with what they feed.
    static let all: [(name: String, feeds: String)] = [
        ("nifti", "a .nii file to NIfTI.read (header checks, then voxels)"),
        ("nifti-gz", "a .nii.gz file to NIfTI.read (the gzip reader, then the header)"),
        ("dicom", "a .dcm file to the DICOM scanner, then volume decoding (DCMTK through the shim, our pixel decoders)"),
        ("seg", "a .dcm file to the DICOM SEG reader"),
        ("deidentify", "a .dcm file to the de-identifier"),
        ("pipeline", "pipeline JSON text to the parser and validator"),
        ("safetensors", "bytes to the safetensors reader"),
        ("checkpoint", "bytes to the PyTorch checkpoint reader (zip + restricted unpickler)"),
        ("scan-cache", "bytes to the `scan --cache` index reader"),
        ("dicomdir", "a DICOMDIR file to the index reader (DCMTK through the shim, then path resolution)"),
    ]

    /// A scratch folder in memory (one per process: libFuzzer runs inputs one at a time).
    static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = "\(base)/voxelflow-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The repository's pipelines/ folder (beside Tests/), or the scratch folder when it cannot be found.
    static let pipelinesFolder: String = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("pipelines").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return scratch
    }()

    static func file(_ data: [UInt8], _ name: String) -> String {
        let path = scratch + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(data))
        return path
    }

    /// Runs one input through `target`; returns a one-line outcome ("ok …" or "error: …").
    static func run(_ target: String, _ data: [UInt8]) -> String {
        do {
            switch target {
            case "nifti", "nifti-gz":
                let image = try NIfTI.read(file(data, target == "nifti" ? "input.nii" : "input.nii.gz"))
                return "ok \(image.volume.geometry.size)"
            case "dicom":
                let scan = try DICOMScanner.scan(file(data, "input.dcm"), threads: 1)
                for stack in scan.stacks { _ = try stack.volume() }
                return "ok \(scan.stacks.count) stack(s)"
            case "seg":
                let seg = try DICOMSegmentation.read(file(data, "input.dcm"))
                return "ok \(seg.frames) frame(s)"
            case "deidentify":
                let out = scratch + "/deid"
                defer { try? FileManager.default.removeItem(atPath: out) }
                let key = try DeidentificationKey(text: "fuzzing-key-0123456789")
                let outcome = DICOMDeidentifier(profile: .basic, key: key).deidentify(file(data, "input.dcm"), into: out)
                if case .written(let instance) = outcome { return "ok \(instance.modality)" }
                return "error: \(outcome)"
            case "pipeline":
                // Relative files (label tables) resolve in the repository's pipelines/ folder, as for the examples.
                let spec = try PipelineValidator(registry: StageCatalog.registry).validate(bytes: data, file: "fuzz.json", directory: pipelinesFolder)
                return "ok \(spec.stages.count) stage(s)"
            case "safetensors":
                let weights = try Safetensors(bytes: data, path: "fuzz.safetensors")
                return "ok \(weights.entries.count) tensor(s)"
            case "checkpoint":
                let checkpoint = try TorchCheckpoint(data: Data(data), path: "fuzz.pth")
                // A plain state dict, or nnU-Net's, under "network_weights".
                let tensors = try (try? checkpoint.stateDict()) ?? checkpoint.stateDict(at: "network_weights")
                for t in tensors.prefix(4) { _ = try checkpoint.tensor(t.tensor) }
                return "ok \(tensors.count) tensor(s)"
            case "scan-cache":
                let cache = try DICOMScanCache.load(file(data, "scan.cache"))
                return "ok \(cache.count) file(s)"
            case "dicomdir":
                let folder = scratch + "/media"
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let path = folder + "/DICOMDIR"
                FileManager.default.createFile(atPath: path, contents: Data(data))
                let listed = try DICOMDirectory.referencedFiles(path)
                return "ok \(listed.found.count) found, \(listed.missing.count) missing"
            default:
                return "error: unknown target \(target)"
            }
        } catch {
            return "error: \(error)"
        }
    }
}

/// libFuzzer's callback: the target comes from VOXELFLOW_FUZZ_TARGET.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target = ProcessInfo.processInfo.environment["VOXELFLOW_FUZZ_TARGET"] ?? "nifti"
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = FuzzTargets.run(target, bytes)
    return 0
}

#if FUZZING
/// libFuzzer's driver (in the fuzzer runtime linked by `-sanitize=fuzzer`), started from `main` because
/// SwiftPM names an executable's entry point itself.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// With libFuzzer (built by scripts/fuzz.sh): fuzzes the target named by VOXELFLOW_FUZZ_TARGET, taking
/// libFuzzer's options. Without: replays inputs (a corpus, or what a fuzz run found) through a target.
/// Usage: voxelflow-fuzz TARGET FILE…   (prints one outcome per file; exits 0 when every input returned)
@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first, FuzzTargets.all.contains(where: { $0.name == target }) else {
            print("usage: voxelflow-fuzz TARGET FILE…\ntargets:")
            for t in FuzzTargets.all { print("  \(t.name): \(t.feeds)") }
            exit(64)
        }
        for path in arguments.dropFirst() {
            let data = FileManager.default.contents(atPath: path).map { Array($0) } ?? []
            let outcome = FuzzTargets.run(target, data).split(whereSeparator: \.isNewline).joined(separator: " | ")
            print("\(path): \(outcome)")
        }
        #endif
    }
}
