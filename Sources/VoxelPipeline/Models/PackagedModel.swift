import Foundation
import VoxelCore
import VoxelIO
import VoxelNN
import VoxelSupport
import VoxelTransforms

/// A model package made ready for a run: the network with its weights loaded and the package's stages built.
/// Built once per run by `segment`/`classify`; runs its stages for each case in a context of its own, so
/// their ids never meet the pipeline's.
struct PackagedModel: Sendable {
    let package: ModelPackage
    let network: any Network
    let preprocessing: [(id: String, stage: any Stage)]
    let postprocessing: [(id: String, stage: any Stage)]
    /// False when the pipeline turned the package's preprocessing off (`modelPreprocessing: false`).
    let usesPreprocessing: Bool

    /// Loads the package at `path` (relative to the pipeline's folder) for stage `stage`.
    /// - Throws: `CaseError.model` naming the package and the problem (format, weights, network).
    init(path: String, stage: String, pipelineDirectory: String, usesPreprocessing: Bool, task: ModelPackage.Task) throws {
        let full = path.hasPrefix("/") ? path : "\(pipelineDirectory)/\(path)"
        do {
            package = try ModelPackage.load(full)
        } catch let error as PipelineValidationError {
            throw CaseError.model(stage: stage, reason: "model package \(error)")
        }
        guard package.task == task else {
            let other = task == .segmentation ? "classify" : "segment"
            throw CaseError.model(stage: stage, reason: "\(full) is a \(package.task.rawValue) model; use a \"\(other)\" stage for it")
        }
        do {
            network = try Networks.load(Safetensors(path: package.weightsPath), description: package.network)
        } catch let error as NNError {
            throw CaseError.model(stage: stage, reason: "\(package.weightsPath): \(error)")
        }
        guard network.inChannels == package.input.channels else {
            throw CaseError.model(stage: stage, reason: "\(full): the network takes \(network.inChannels) channel(s) but input.channels says \(package.input.channels)")
        }
        let loaded = package
        let registry = StageRegistry.builtIn
        func build(_ specs: [StageSpec]) throws -> [(id: String, stage: any Stage)] {
            try specs.map { s in
                guard let definition = registry[s.type] else {
                    throw CaseError.model(stage: stage, reason: "\(full): unknown stage type \"\(s.type)\"")
                }
                return (s.id, try definition.make(StageConfiguration(id: s.id, parameters: s.parameters, pipelineDirectory: loaded.directory)))
            }
        }
        preprocessing = try build(loaded.preprocessing)
        postprocessing = try build(loaded.postprocessing)
        self.usesPreprocessing = usesPreprocessing
    }

    /// Refuses an image the model was not made for: a known modality outside the package's list, another
    /// channel count, or a known intensity unit other than the package's.
    /// - Throws: `CaseError.model` with the reason.
    func check(_ image: Volume, stage: String) throws {
        let name = "model \"\(package.name)\""
        if !package.input.modalities.isEmpty, let modality = image.metadata.modality, !modality.isEmpty,
           !package.input.modalities.contains(modality) {
            throw CaseError.model(stage: stage, reason: "\(name) takes \(package.input.modalities.joined(separator: " or ")) images, but this one is \(modality)")
        }
        guard image.timePoints == package.input.channels else {
            throw CaseError.model(stage: stage, reason: "\(name) takes \(package.input.channels) channel(s), but the input has \(image.timePoints)")
        }
        if let unit = package.input.intensityUnit, let found = image.metadata.intensityUnit, !found.isEmpty, found != unit {
            throw CaseError.model(stage: stage, reason: "\(name) takes intensities in \(unit), but this image is in \(found)")
        }
    }

    /// Runs the preprocessing on `image` in a context of its own (warnings go to `context`); returns that
    /// context, holding `input` and every stage's result, and the network's input image.
    func preprocess(_ image: Volume, context: inout CaseContext) throws -> (CaseContext, Volume) {
        var sub = CaseContext(caseID: context.caseID, inputs: [:], seed: context.seed, stagingDirectory: context.stagingDirectory,
                              pipeline: context.pipeline)
        sub.store(.image(image), as: ModelPackage.inputID)
        if usesPreprocessing {
            try run(preprocessing, in: &sub, context: &context)
        } else {
            context.warnings.append("model \"\(package.name)\": its preprocessing was turned off (modelPreprocessing: false); the network gets the source as it is")
        }
        let id = usesPreprocessing ? package.networkInputID : ModelPackage.inputID
        return (sub, try sub.image(id))
    }

    /// Runs the postprocessing on `prediction` and puts the result on `grid` (nearest neighbour) when it is
    /// elsewhere.
    func postprocess(_ prediction: LabelMap, in sub: inout CaseContext, onto grid: Geometry, context: inout CaseContext) throws -> LabelMap {
        sub.store(.labels(prediction), as: ModelPackage.predictionID)
        try run(postprocessing, in: &sub, context: &context)
        let result = try sub.labels(postprocessing.last?.id ?? ModelPackage.predictionID)
        guard result.geometry != grid else { return result }
        return try LabelMap(ResampleToGrid(target: grid, interpolation: .nearest).apply(result.volume))
    }

    private func run(_ stages: [(id: String, stage: any Stage)], in sub: inout CaseContext, context: inout CaseContext) throws {
        for (id, stage) in stages {
            let before = sub.warnings.count
            defer { context.warnings += sub.warnings[before...].map { "model \"\(package.name)\", \(id): \($0)" } }
            do {
                if let value = try stage.run(&sub) { sub.store(value, as: id) }
            } catch let error as CaseError {
                throw CaseError.model(stage: nil, reason: "model \"\(package.name)\", stage \"\(id)\": \(error.message)")
            }
        }
    }

    /// The grid of the last preprocessing `resample` with MONAI's size rule (`size: centres`, Spacingd's), as
    /// computed for this case in `sub`; nil when there is none.
    func resampledGrid(in sub: inout CaseContext) -> Geometry? {
        guard usesPreprocessing,
              let spec = package.preprocessing.last(where: { $0.type == "resample" && $0.parameters.string("size") == "centres" }) else { return nil }
        return try? sub.image(spec.id).geometry
    }

    /// Labels on `grid` from class probabilities interpolated linearly from the network's grid (MONAI's
    /// `Invertd` then `AsDiscreted`): `logits` is `1 × C × D × H × W` on `networkGrid`, in volume order.
    ///
    /// MONAI inverts `Spacingd` with border padding: where the source grid reaches beyond the resampled grid's
    /// outermost voxel centres (up to half a voxel, from the size's rounding), the outermost values are
    /// repeated. `borderGrid` is that resampled grid; sides of the network's grid that lie on its boundary
    /// (the network's grid is the resampled grid or a crop of it) are extended by repetition; other sides (a
    /// crop's inner faces, which MONAI pads with zeros) are not.
    ///
    /// The probabilities are never resampled channel by channel onto `grid` (105 classes on a 512² CT would be
    /// tens of gigabytes): `ResampleToGrid.linearArgmax` interpolates only the channels that can win.
    static func labelsFromProbabilities(_ logits: Tensor, networkGrid: Geometry, onto grid: Geometry, rule: SlidingWindow.LabelRule,
                                        borderGrid: Geometry? = nil) throws -> VoxelArray {
        let channels = logits.shape[1]
        let labelCount = rule == .argmax ? channels : channels + 1
        guard labelCount <= 65_536 else { throw NNError.invalidInput("\(labelCount) labels do not fit 16 bits") }
        let (padLow, padHigh) = borderGrid.map { borderExtension(networkGrid, within: $0, reaching: grid) } ?? ([0, 0, 0], [0, 0, 0])
        let size = networkGrid.size
        let ext = SIMD3(size.x + padLow[0] + padHigh[0], size.y + padLow[1] + padHigh[1], size.z + padLow[2] + padHigh[2])
        var extended = networkGrid
        extended.size = ext
        extended.origin = networkGrid.worldPoint(atIndex: SIMD3(-Double(padLow[0]), -Double(padLow[1]), -Double(padLow[2])))
        let n = size.x * size.y * size.z, nExt = ext.x * ext.y * ext.z
        guard logits.count == n * channels else { throw NNError.invalidInput("\(logits.shape) does not match the grid \(size)") }
        // Probabilities, channels fastest, on the extended grid (edge voxels repeated).
        var probabilities = [Float](repeating: 0, count: nExt * channels)
        let sigmoid: Bool
        switch rule { case .argmax: sigmoid = false; case .sigmoid: sigmoid = true }
        logits.data.withUnsafeBufferPointer { src in
            probabilities.withUnsafeMutableBufferPointer { dst in
                let s = Shared(src), d = Shared(dst)
                let chunks = min(ComputeBudget.threads * 4, max(1, ext.z))
                let per = (ext.z + chunks - 1) / chunks
                Parallel.perform(chunks) { chunk in
                    var row = [Float](repeating: 0, count: channels)
                    for z in min(ext.z, chunk * per)..<min(ext.z, (chunk + 1) * per) {
                        let sz = min(max(z - padLow[2], 0), size.z - 1)
                        for y in 0..<ext.y {
                            let sy = min(max(y - padLow[1], 0), size.y - 1)
                            for x in 0..<ext.x {
                                let sx = min(max(x - padLow[0], 0), size.x - 1)
                                let v = sx + size.x * (sy + size.y * sz)
                                let out = (x + ext.x * (y + ext.y * z)) * channels
                                if sigmoid {
                                    for c in 0..<channels { d.value[out + c] = 1 / (1 + Foundation.exp(-s.value[c * n + v])) }
                                } else {
                                    var top = -Float.infinity
                                    for c in 0..<channels { row[c] = s.value[c * n + v]; top = max(top, row[c]) }
                                    var sum: Float = 0
                                    for c in 0..<channels { row[c] = Foundation.exp(row[c] - top); sum += row[c] }
                                    for c in 0..<channels { d.value[out + c] = row[c] / sum }
                                }
                            }
                        }
                    }
                }
            }
        }
        let (winner, score) = try ResampleToGrid(target: grid, interpolation: .linear, fill: 0)
            .linearArgmax(probabilities, channels: channels, source: extended)
        let labels: [UInt16]
        switch rule {
        case .argmax: labels = winner
        case .sigmoid(let threshold): labels = zip(winner, score).map { $0.1 >= threshold ? $0.0 + 1 : 0 }
        }
        return labelCount <= 256 ? .uint8(labels.map { UInt8(truncatingIfNeeded: $0) }) : .uint16(labels)
    }

    /// How many voxels to add below and above `network` on each axis, repeating its edge voxels, on the sides
    /// that lie on `border`'s boundary, as far as `target`'s voxel centres reach beyond them; zeros when nothing
    /// needs extending or the grids are not aligned (another direction or spacing, or not a whole-voxel crop).
    static func borderExtension(_ network: Geometry, within border: Geometry, reaching target: Geometry) -> (low: [Int], high: [Int]) {
        let none = ([0, 0, 0], [0, 0, 0])
        guard network.direction == border.direction, network.spacing == border.spacing,
              let start = border.continuousIndex(ofWorldPoint: network.origin) else { return none }
        let offset = (0..<3).map { Int(start[$0].rounded()) }
        guard (0..<3).allSatisfy({ abs(start[$0] - Double(offset[$0])) < 1e-3 }) else { return none }
        // Where the target's corner voxel centres fall in the network grid's index space.
        var low = SIMD3<Double>(repeating: .infinity), high = SIMD3<Double>(repeating: -.infinity)
        for corner in 0..<8 {
            let index = SIMD3<Double>(corner & 1 == 0 ? 0 : Double(target.size.x - 1), corner & 2 == 0 ? 0 : Double(target.size.y - 1),
                                      corner & 4 == 0 ? 0 : Double(target.size.z - 1))
            guard let p = network.continuousIndex(ofWorldPoint: target.worldPoint(atIndex: index)) else { return none }
            low = pointwiseMin(low, p)
            high = pointwiseMax(high, p)
        }
        var padLow = [0, 0, 0], padHigh = [0, 0, 0]
        for a in 0..<3 {
            let n = network.size[a]
            if offset[a] == 0, low[a] < -1e-6 { padLow[a] = Int((-low[a]).rounded(.up)) }
            if offset[a] + n == border.size[a], high[a] > Double(n - 1) + 1e-6 { padHigh[a] = Int((high[a] - Double(n - 1)).rounded(.up)) }
        }
        return (padLow, padHigh)
    }
}
