import Foundation
import VoxelCore
import VoxelIO
import VoxelNN

/// Built-in model stages: `segment` (sliding-window segmentation → label map) and `classify` (whole-volume
/// classification → scores in the report). The network is described in the pipeline (`network`) and its
/// weights come from a safetensors file (`weights`); both are loaded once per run.
enum ModelStages {
    static let all = [segment, classify]

    static let inputParameters = [
        CommonParameters.source([.image], doc: "the image fed to the model: with \"model\", as it is read (the package's preprocessing prepares it); with \"network\", already normalised as the network was trained. Its time points are input channels"),
        ParameterSpec("extraChannels", .array(of: .reference([.image]), count: 1...16), optional: true,
                      doc: "further images on the same grid, appended as input channels in this order (e.g. other MR sequences)"),
        ParameterSpec("model", .string, optional: true,
                      doc: "a model package folder (relative to the pipeline file; docs/models.md): network, weights, preprocessing, postprocessing, labels and model card in one; give either this or network + weights"),
        ParameterSpec("modelPreprocessing", .boolean, default: .bool(true),
                      doc: "with \"model\": run the package's preprocessing stages (false feeds the source as it is and records a warning per case)"),
        ParameterSpec("network", .object, optional: true,
                      doc: "without \"model\": the architecture, {\"type\": \"monai-unet\" | \"monai-basicunet\" | \"monai-resnet\", …hyperparameters} (docs/pipelines.md lists the keys)"),
        ParameterSpec("weights", .existingFile, optional: true, doc: "without \"model\": safetensors file with the network's parameters under MONAI's state_dict names (scripts/convert_checkpoint.py converts a .pt)"),
        ParameterSpec("tensorAxes", .choice(TensorAxes.allCases.map(\.rawValue)), optional: true,
                      doc: "the order the network takes the volume's axes in: kji (VoxelFlow's, models trained by voxelflow train) or ijk (MONAI's on NIfTI, for checkpoints trained in MONAI); default: the model package's, else kji"),
    ]

    /// The sliding-window parameters a model package may set (the stage's own values win).
    static let windowParameters = ["roi", "overlap", "blend", "sigmaScale", "batchSize", "mirror", "activation", "threshold"]

    static let segment = StageDefinition(
        type: "segment", category: .model,
        summary: "Segment with a 3D CNN by sliding-window inference (MONAI-compatible Gaussian blending, optional mirror TTA); the result is a label map on the source's grid.",
        parameters: inputParameters + [
            ParameterSpec("roi", .array(of: .integer(1...1024), count: 3...3), optional: true,
                          doc: "window size along i, j, k in voxels, a multiple of the network's downsampling factor (default: the model package's, else 96³)"),
            ParameterSpec("overlap", .number(0...0.95), optional: true, doc: "fraction of the window shared by neighbouring windows (default: the package's, else 0.5)"),
            ParameterSpec("blend", .choice(["gaussian", "constant"]), optional: true,
                          doc: "weighting of overlapping windows: Gaussian (σ = sigmaScale × roi, as MONAI and nnU-Net) or equal (default: the package's, else gaussian)"),
            ParameterSpec("sigmaScale", .number(0.01...10), optional: true, doc: "Gaussian σ as a fraction of the window size (default: the package's, else 0.125)"),
            ParameterSpec("batchSize", .integer(1...64), optional: true, doc: "windows run through the network together (default: the package's, else 1)"),
            ParameterSpec("mirror", .array(of: .choice(["i", "j", "k"]), count: 1...3), optional: true,
                          doc: "test-time augmentation: also run on the image flipped along every combination of these axes and average (2ⁿ × the time; default: the package's, else none)"),
            ParameterSpec("activation", .choice(["softmax", "sigmoid"]), optional: true,
                          doc: "softmax: label = the highest-scoring channel (channel 0 = background); sigmoid: label = 1 + the highest channel whose probability reaches threshold, else 0 (default: the package's, else softmax)"),
            ParameterSpec("threshold", .number(0.000001...0.999999), optional: true, doc: "sigmoid probability a channel needs (sigmoid only; default: the package's, else 0.5)"),
            ParameterSpec("resampleBack", .choice(ModelPackage.ResampleBack.allCases.map(\.rawValue)), optional: true,
                          doc: "with \"model\", when its preprocessing moved the image to another grid: labels (decided on the network's grid, moved back nearest-neighbour) or probabilities (interpolated linearly onto the source's grid, labels decided there, as MONAI's Invertd; more memory); default: the package's, else labels"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: "the model's label table (a JSON file, or inline): names, colours and codes of its labels, used by the writers and reports that take this stage's labels and name no table of their own (default: the model package's)"),
        ],
        produces: .kind(.labels),
        make: { c in
            let packaged = try packagedModel(c, task: .segmentation)
            let network = try packaged?.network ?? loadNetwork(c)
            guard !network.isClassifier else { throw CaseError.invalidParameters(stage: c.id, reason: "\"segment\" needs a segmentation network; use \"classify\" for a classifier") }
            var settings = packaged?.package.inference ?? [:]
            for key in windowParameters + ["resampleBack"] where c.parameters.has(key) { settings[key] = c.parameters.values[key] }
            let p = ParameterValues(settings)
            let layout = c.parameters.string("tensorAxes").flatMap(TensorAxes.init(rawValue:)) ?? packaged?.package.tensorAxes ?? .kji
            let roiIJK = p.ints("roi") ?? [96, 96, 96]
            let axes = (p.strings("mirror") ?? []).compactMap { layout.tensorAxis($0) }
            let window = try SlidingWindow(roi: layout.tensorOrder(roiIJK), overlap: p.double("overlap") ?? 0.5,
                                           blend: p.string("blend") == "constant" ? .constant : .gaussian(sigmaScale: p.double("sigmaScale") ?? 0.125),
                                           batchSize: p.int("batchSize") ?? 1, mirrorAxes: axes)
            let multiples = network.sizeMultiples
            if let axis = (0..<3).first(where: { window.roi[$0] % multiples[$0] != 0 }) {
                let name = layout.axisName(ofTensorAxis: axis)
                throw CaseError.invalidParameters(stage: c.id, reason: "roi size \(window.roi[axis]) along \(name) is not a multiple of \(multiples[axis]), which this network needs there")
            }
            let rule: SlidingWindow.LabelRule = p.string("activation") == "sigmoid" ? .sigmoid(threshold: Float(p.double("threshold") ?? 0.5)) : .argmax
            let back = p.string("resampleBack").flatMap(ModelPackage.ResampleBack.init(rawValue:)) ?? .labels
            return SegmentStage(id: c.id, inputs: NetworkInputs(c.parameters), network: network, window: window, rule: rule,
                                table: try DICOMWriterSupport.table(c) ?? packaged?.package.labelTable, packaged: packaged, resampleBack: back, layout: layout)
        })

    static let classify = StageDefinition(
        type: "classify", category: .model,
        summary: "Classify the whole volume with a 3D CNN; class scores go into the case report.",
        parameters: inputParameters + [
            ParameterSpec("activation", .choice(["softmax", "sigmoid", "none"]), default: .string("softmax"),
                          doc: "turns logits into scores: softmax (one class), sigmoid (independent labels) or none (raw logits)"),
            ParameterSpec("classNames", .array(of: .string, count: 1...10_000), optional: true,
                          doc: "a name per output class, in order, used in the report"),
        ],
        produces: .kind(.report),
        make: { c in
            let packaged = try packagedModel(c, task: .classification)
            let network = try packaged?.network ?? loadNetwork(c)
            guard network.isClassifier else { throw CaseError.invalidParameters(stage: c.id, reason: "\"classify\" needs a classification network; use \"segment\" for a segmentation network") }
            let names = c.parameters.strings("classNames") ?? packaged?.package.classNames ?? (0..<network.outChannels).map { "class \($0)" }
            guard names.count == network.outChannels else {
                throw CaseError.invalidParameters(stage: c.id, reason: "\(names.count) class names for a network with \(network.outChannels) outputs")
            }
            let weights: String
            if let packaged { weights = "\(packaged.package.name) \(packaged.package.version)" } else { weights = (try c.string("weights") as NSString).lastPathComponent }
            let layout = c.parameters.string("tensorAxes").flatMap(TensorAxes.init(rawValue:)) ?? packaged?.package.tensorAxes ?? .kji
            return ClassifyStage(inputs: NetworkInputs(c.parameters), network: network, activation: try c.string("activation"),
                                 names: names, weights: weights, packaged: packaged, layout: layout)
        })

    /// The model package of `model`, or nil when the stage names a network and weights instead.
    /// - Throws: `CaseError.invalidParameters` when both or neither are given; the package's errors.
    static func packagedModel(_ c: StageConfiguration, task: ModelPackage.Task) throws -> PackagedModel? {
        let p = c.parameters
        guard let path = p.string("model") else {
            guard p.has("network"), p.has("weights") else {
                throw CaseError.invalidParameters(stage: c.id, reason: "give \"model\" (a model package) or both \"network\" and \"weights\"")
            }
            return nil
        }
        if p.has("network") || p.has("weights") {
            throw CaseError.invalidParameters(stage: c.id, reason: "\"model\" carries its network and weights; leave out \"network\" and \"weights\"")
        }
        return try PackagedModel(path: path, stage: c.id, pipelineDirectory: c.pipelineDirectory,
                                 usesPreprocessing: p.bool("modelPreprocessing") ?? true, task: task)
    }

    /// Builds the described network and loads its weights (the whole file is checked: every parameter
    /// present with its shape, nothing left over).
    static func loadNetwork(_ c: StageConfiguration) throws -> any Network {
        guard case .object? = c.parameters.values["network"], let description = c.parameters.values["network"] else {
            throw CaseError.invalidParameters(stage: c.id, reason: "\"network\" must be an object")
        }
        let file = try c.string("weights")
        let path = file.hasPrefix("/") ? file : "\(c.pipelineDirectory)/\(file)"
        do {
            return try Networks.load(Safetensors(path: path), description: description)
        } catch let error as NNError {
            throw CaseError.model(stage: c.id, reason: "\(path): \(error)")
        }
    }
}

/// The images a model stage stacks into its input tensor, all on one grid.
struct NetworkInputs: Sendable {
    let ids: [String]

    init(_ p: ParameterValues) { ids = [p.string("source") ?? ""] + (p.strings("extraChannels") ?? []) }

    /// The source with the extra channels appended as time points (float32, physical values): the image a
    /// model package's preprocessing takes.
    func stacked(_ context: inout CaseContext) throws -> Volume {
        let first = try context.image(ids[0])
        guard ids.count > 1 else { return first }
        var data = first.physicalFloats()
        var channels = first.timePoints
        for id in ids.dropFirst() {
            let image = try context.image(id)
            guard image.geometry.size == first.geometry.size else {
                throw CaseError.gridMismatch("\"\(id)\" is \(image.geometry.size), but \"\(ids[0])\" is \(first.geometry.size); resample it onto the same grid first (resample-to)")
            }
            data += image.physicalFloats()
            channels += image.timePoints
        }
        return try Volume(geometry: first.geometry, voxels: .float32(data), timePoints: channels, metadata: first.metadata)
    }
}

/// `segment`: sliding-window inference to a label map.
struct SegmentStage: Stage {
    let id: String
    let inputs: NetworkInputs
    let network: any Network
    let window: SlidingWindow
    let rule: SlidingWindow.LabelRule
    /// The model's label table, handed to the stages that take these labels.
    let table: LabelTable?
    /// The model package, when the stage runs one (its preprocessing and postprocessing run around the network).
    let packaged: PackagedModel?
    let resampleBack: ModelPackage.ResampleBack
    /// The axis order the network takes.
    let layout: TensorAxes

    func run(_ context: inout CaseContext) throws -> StageValue? {
        if let table { context.labelTables[id] = table }
        if let packaged { return .labels(try run(packaged, &context)) }
        let image = try inputs.stacked(&context)
        guard image.timePoints == network.inChannels else {
            throw CaseError.model(stage: nil, reason: "the network takes \(network.inChannels) input channel(s), but \(inputs.ids.joined(separator: " + ")) give \(image.timePoints)")
        }
        let input = try layout.tensor(image)
        let voxels: VoxelArray
        do {
            voxels = layout.volumeOrder(try window.labels(input, network: network, rule: rule), size: image.geometry.size)
        } catch let error as NNError {
            throw CaseError.model(stage: nil, reason: "\(error)")
        }
        var metadata = image.metadata
        metadata.intensityUnit = nil
        return .labels(try LabelMap(Volume(geometry: image.geometry, voxels: voxels, metadata: metadata)))
    }
}

extension SegmentStage {
    /// The package's preprocessing, the network, the package's postprocessing; the labels end on the source's grid.
    func run(_ packaged: PackagedModel, _ context: inout CaseContext) throws -> LabelMap {
        let image = try inputs.stacked(&context)
        try packaged.check(image, stage: id)
        var (sub, prepared) = try packaged.preprocess(image, context: &context)
        let input = try layout.tensor(prepared)
        let prediction: LabelMap
        do {
            if resampleBack == .probabilities && prepared.geometry != image.geometry {
                var logits = try window.predict(input, network: network)
                logits.data = layout.volumeOrder(logits.data, channels: logits.shape[1], size: prepared.geometry.size)
                let voxels = try PackagedModel.labelsFromProbabilities(logits, networkGrid: prepared.geometry, onto: image.geometry, rule: rule,
                                                                       borderGrid: packaged.resampledGrid(in: &sub))
                prediction = try LabelMap(Volume(geometry: image.geometry, voxels: voxels))
            } else {
                let labels = layout.volumeOrder(try window.labels(input, network: network, rule: rule), size: prepared.geometry.size)
                prediction = try LabelMap(Volume(geometry: prepared.geometry, voxels: labels))
            }
        } catch let error as NNError {
            throw CaseError.model(stage: nil, reason: "model \"\(packaged.package.name)\": \(error)")
        }
        var result = try packaged.postprocess(prediction, in: &sub, onto: image.geometry, context: &context)
        var metadata = image.metadata
        metadata.intensityUnit = nil
        result = try LabelMap(Volume(geometry: result.geometry, voxels: result.volume.voxels, metadata: metadata))
        return result
    }
}

/// `classify`: one forward pass over the whole volume; scores in the report.
struct ClassifyStage: Stage {
    let inputs: NetworkInputs
    let network: any Network
    let activation: String
    let names: [String]
    /// The weights file's name, or the model package's name and version, for the report.
    let weights: String
    let packaged: PackagedModel?
    let layout: TensorAxes

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let input: Tensor
        if let packaged {
            let image = try inputs.stacked(&context)
            try packaged.check(image, stage: "classify")
            input = try layout.tensor(packaged.preprocess(image, context: &context).1)
        } else {
            let image = try inputs.stacked(&context)
            guard image.timePoints == network.inChannels else {
                throw CaseError.model(stage: nil, reason: "the network takes \(network.inChannels) input channel(s), but \(inputs.ids.joined(separator: " + ")) give \(image.timePoints)")
            }
            input = try layout.tensor(image)
        }
        let logits: [Float]
        do {
            logits = try network.forward(input).data
        } catch let error as NNError {
            throw CaseError.model(stage: nil, reason: "\(error)")
        }
        let scores: [Float]
        switch activation {
        case "softmax": scores = try Softmax().forward(Tensor(shape: [1, logits.count], data: logits)).data
        case "sigmoid": scores = try Sigmoid().forward(Tensor(shape: [1, logits.count], data: logits)).data
        default: scores = logits
        }
        let best = scores.indices.max { scores[$0] < scores[$1] } ?? 0
        return .report(.object([
            ("predicted", .string(names[best])),
            ("predictedIndex", .int(best)),
            ("activation", .string(activation)),
            ("scores", .object(zip(names, scores).map { ($0, .number(ClassifyStage.rounded($1))) })),
            ("logits", .array(logits.map { .number(ClassifyStage.rounded($0)) })),
            ("weights", .string(weights)),
        ]))
    }

    /// Scores to 6 decimals, so reports are stable across builds.
    static func rounded(_ x: Float) -> Double { (Double(x) * 1e6).rounded() / 1e6 }
}
