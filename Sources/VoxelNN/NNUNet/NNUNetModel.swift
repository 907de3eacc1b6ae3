import Foundation
import VoxelSupport

/// A trained nnU-Net v2 model folder, opened as nnU-Net writes it (`plans.json`, `dataset.json`,
/// `fold_N/checkpoint_final.pth`), and its inference: nnU-Net's preprocessing, sliding window with
/// mirroring, averaging over folds, resampling the logits back, argmax (or regions) and un-cropping.
///
/// Checkpoints are read with `TorchCheckpoint` (nothing in them is executed); `fold_N/<name>.safetensors`
/// holding the same `network_weights` names is accepted too. Every fold's network is built from the plan's
/// architecture and loaded strictly.
public struct NNUNetModel: Sendable {
    /// The model folder.
    public let folder: String
    public let plans: NNUNetPlans
    public let dataset: NNUNetDataset
    /// Fold names (`0`, `1`, …, `all`) in the order their networks are averaged.
    public let folds: [String]
    /// One network per fold.
    public let networks: [NNUNetNetwork]
    /// Mirroring axes the trainer allows at inference (axes of the patch), from the checkpoint.
    public let allowedMirrorAxes: [Int]

    /// Opens a model folder.
    /// - Parameters:
    ///   - configuration: `3d_fullres`, `2d`, `3d_lowres`, …; nil: the one the checkpoint was trained with,
    ///     else the folder name's suffix (`…__3d_fullres`).
    ///   - folds: fold names; nil: every `fold_N` folder that holds the checkpoint (nnU-Net's auto-detection).
    ///   - checkpoint: the file name inside each fold folder.
    /// - Throws: `NNError.invalidInput` / `.invalidWeightsFile` naming the file and what is wrong with it.
    public init(folder: String, configuration: String? = nil, folds: [String]? = nil, checkpoint: String = "checkpoint_final.pth") throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NNError.invalidInput("nnU-Net model folder \(folder) does not exist")
        }
        let url = URL(fileURLWithPath: folder)
        dataset = try NNUNetDataset(path: url.appendingPathComponent("dataset.json").path)
        var foldNames = folds ?? []
        if folds == nil {
            let entries = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            foldNames = entries.filter { $0.hasPrefix("fold_") && $0 != "fold_all" }
                .filter { fm.fileExists(atPath: url.appendingPathComponent($0).appendingPathComponent(checkpoint).path) }
                .map { String($0.dropFirst(5)) }
                .sorted { (Int($0) ?? Int.max, $0) < (Int($1) ?? Int.max, $1) }
            guard !foldNames.isEmpty else {
                throw NNError.invalidInput("nnU-Net model folder \(folder) has no fold_N folder holding \(checkpoint)")
            }
        }
        guard !foldNames.isEmpty else { throw NNError.invalidInput("nnU-Net: no folds given") }
        var checkpoints: [(path: String, checkpoint: TorchCheckpoint?)] = []
        for f in foldNames {
            let path = url.appendingPathComponent("fold_\(f)").appendingPathComponent(checkpoint).path
            guard fm.fileExists(atPath: path) else { throw NNError.invalidInput("nnU-Net: fold \(f) has no \(checkpoint) (\(path))") }
            checkpoints.append((path, path.hasSuffix(".safetensors") ? nil : try TorchCheckpoint(path: path)))
        }
        var config = configuration
        if config == nil, let root = checkpoints.first?.checkpoint?.root { config = root["init_args"]?["configuration"]?.string }
        if config == nil, let suffix = url.lastPathComponent.components(separatedBy: "__").last, url.lastPathComponent.contains("__") { config = suffix }
        guard let config else { throw NNError.invalidInput("nnU-Net: say which configuration to run (the checkpoint and folder name do not)") }
        plans = try NNUNetPlans(path: url.appendingPathComponent("plans.json").path, configuration: config)
        if plans.previousStage != nil, dataset.hasRegions {
            throw NNError.invalidInput("nnU-Net: cascades of region-based models are not supported")
        }
        var mirror = [0, 1, 2]
        if let root = checkpoints.first?.checkpoint?.root, let axes = root["inference_allowed_mirroring_axes"] {
            mirror = axes.items?.compactMap(\.int) ?? []
        }
        if plans.is2D { mirror = mirror.filter { $0 < 2 } }
        allowedMirrorAxes = mirror
        // A cascade stage also takes the previous stage's labels, one 0/1 channel per foreground label.
        let extra = plans.previousStage == nil ? 0 : dataset.foregroundLabels.count
        let template = try NNUNetNetwork(architecture: plans.architecture, inChannels: dataset.channelNames.count + extra, outChannels: dataset.outputChannels)
        let expand2D = template.is2D
        networks = try checkpoints.map { entry in
            let reshape: (String, [Int]) -> [Int] = { _, shape in expand2D && shape.count == 4 ? [shape[0], shape[1], 1, shape[2], shape[3]] : shape }
            let weights: Safetensors
            if let ckpt = entry.checkpoint {
                let key = ckpt.root["network_weights"] != nil ? "network_weights" : nil
                weights = try ckpt.weights(at: key, rename: { template.isAlias($0) ? nil : $0 }, reshape: reshape)
            } else {
                let file = try Safetensors(path: entry.path)
                var tensors: [(String, Tensor)] = []
                for name in file.entries.keys.sorted() where !template.isAlias(name) {
                    let t = try file.tensor(name)
                    tensors.append((name, try t.reshaped(reshape(name, t.shape))))
                }
                weights = try Safetensors(tensors: tensors, path: entry.path)
            }
            var net = template
            do {
                try net.loadStrictly(from: weights, ignoring: [])
            } catch let error as NNError {
                throw NNError.invalidWeightsFile(path: entry.path, reason: "does not fit the plan's \(template.className): \(error)")
            }
            return net
        }
        self.folder = folder
        self.folds = foldNames
    }

    /// A prediction on the input grid.
    public struct Prediction: Sendable {
        /// Label values in the input's (z, y, x) order, x fastest.
        public var labels: [UInt16]
        /// Per output channel probabilities (softmax, or sigmoid per region) in the same order, when asked for.
        public var probabilities: [[Float]]?
    }

    /// Predicts one case: `channels` in the image's (z, y, x) order (x fastest), `shape` and `spacing` (mm) in
    /// the same order — a volume of size (nx, ny, nz) has shape [nz, ny, nx].
    /// - Parameters:
    ///   - mirror: test-time mirroring over the allowed axes (nnU-Net's default; `--disable-tta` turns it off).
    ///   - tileStep: nnU-Net's `tile_step_size`.
    ///   - previous: a cascade stage's input from the stage before it (`plans.previousStage`, e.g. `3d_lowres`):
    ///     that stage's labels on the same grid, as nnU-Net's `-prev_stage_predictions`.
    /// - Throws: `NNError.invalidInput` when the channels do not fit the model, or a cascade stage lacks `previous`.
    public func predict(channels: [[Float]], shape: [Int], spacing: [Double], mirror: Bool = true, tileStep: Double = 0.5,
                        probabilities: Bool = false, previous: [UInt16]? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> Prediction {
        guard shape.count == 3, spacing.count == 3 else { throw NNError.invalidInput("nnU-Net: shape and spacing need three entries") }
        if let stage = plans.previousStage, previous == nil {
            throw NNError.invalidInput("nnU-Net: \(plans.configuration) is a cascade stage and needs the labels predicted by \(stage) for the same image")
        }
        let pre = try NNUNetPreprocessing.run(channels: channels, shape: shape, spacing: spacing, plans: plans,
                                              previous: plans.previousStage == nil ? nil : previous, foregroundLabels: dataset.foregroundLabels)
        let window = try NNUNetSlidingWindow(patchSize: plans.patchSize, tileStep: tileStep, mirrorAxes: mirror ? allowedMirrorAxes : [])
        var logits: [Float16] = []
        for (i, net) in networks.enumerated() {
            let next = try window.logits(pre.channels, shape: pre.shape, network: net) { done, total in
                progress?(i * total + done, networks.count * total)
            }
            if logits.isEmpty { logits = next } else { for j in logits.indices { logits[j] = Float16(Float(logits[j]) + Float(next[j])) } }
        }
        if networks.count > 1 {
            let n = Float(networks.count)
            for j in logits.indices { logits[j] = Float16(Float(logits[j]) / n) }
        }
        return try export(logits, pre, probabilities: probabilities)
    }

    /// nnU-Net's `convert_predicted_logits_to_segmentation_with_correct_shape`.
    func export(_ logits: [Float16], _ pre: NNUNetPreprocessing.Result, probabilities wantProbabilities: Bool) throws -> Prediction {
        let classes = networks[0].outChannels
        var values = logits
        let cropShape = pre.shapeAfterCropping
        var count = pre.shape.reduce(1, *)
        if cropShape != pre.shape {
            let r = plans.resamplingProbabilities
            let axis = NNUNetResampling.separateAxis(current: pre.targetSpacing, target: pre.originalSpacing, force: r.forceSeparateZ)
            let n = cropShape.reduce(1, *)
            var out = [Float16](repeating: 0, count: classes * n)
            for c in 0..<classes {
                let channel = values[(c * count)..<((c + 1) * count)].map { Double(Float($0)) }
                let resampled = try NNUNetResampling.resample(channel, shape: pre.shape, to: cropShape, order: r.order, orderZ: r.orderZ, separateAxis: axis)
                for i in 0..<n { out[c * n + i] = Float16(resampled[i]) }
            }
            values = out
            count = n
        }
        // Labels (and probabilities) in the cropped box.
        var labels = [UInt16](repeating: 0, count: count)
        var probs: [[Float]] = wantProbabilities ? Array(repeating: [Float](repeating: 0, count: count), count: classes) : []
        let regions = dataset.hasRegions ? dataset.regionsClassOrder ?? [] : nil
        var scratch = [Float](repeating: 0, count: classes)
        for v in 0..<count {
            for c in 0..<classes { scratch[c] = Float(values[c * count + v]) }
            if let regions {
                for (c, label) in regions.enumerated() {
                    let p = 1 / (1 + Foundation.exp(-scratch[c]))
                    if p > 0.5 { labels[v] = UInt16(label) }
                    if wantProbabilities { probs[c][v] = p }
                }
            } else {
                var best = 0
                for c in 1..<max(classes, 1) where scratch[c] > scratch[best] { best = c }
                labels[v] = UInt16(best)
                if wantProbabilities {
                    let m = scratch[best]
                    var sum: Float = 0
                    for c in 0..<classes { scratch[c] = Foundation.exp(scratch[c] - m); sum += scratch[c] }
                    for c in 0..<classes { probs[c][v] = scratch[c] / sum }
                }
            }
        }
        // Un-crop and transpose back.
        func uncrop<T>(_ data: [T], fill: T) -> [T] {
            let full = pre.shapeBeforeCropping
            var out = [T](repeating: fill, count: full.reduce(1, *))
            var i = 0
            for a in pre.bbox[0] { for b in pre.bbox[1] {
                let base = (a * full[1] + b) * full[2]
                for x in pre.bbox[2] { out[base + x] = data[i]; i += 1 }
            } }
            return NNUNetPreprocessing.transpose(out, shape: full, order: plans.transposeBackward)
        }
        let outLabels = uncrop(labels, fill: 0)
        let outProbs: [[Float]]? = wantProbabilities
            ? probs.enumerated().map { c, p in uncrop(p, fill: c == 0 && regions == nil ? 1 : 0) }
            : nil
        return Prediction(labels: outLabels, probabilities: outProbs)
    }
}
