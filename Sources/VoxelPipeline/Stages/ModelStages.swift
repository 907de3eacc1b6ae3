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
        CommonParameters.source([.image], doc: "the image fed to the network (already normalised as the network was trained); its time points are input channels"),
        ParameterSpec("extraChannels", .array(of: .reference([.image]), count: 1...16), optional: true,
                      doc: "further images on the same grid, appended as input channels in this order (e.g. other MR sequences)"),
        ParameterSpec("network", .object,
                      doc: "the architecture: {\"type\": \"monai-unet\" | \"monai-basicunet\" | \"monai-resnet\", …hyperparameters} (docs/pipelines.md lists the keys)"),
        ParameterSpec("weights", .existingFile, doc: "safetensors file with the network's parameters under MONAI's state_dict names (scripts/convert_checkpoint.py converts a .pt)"),
    ]

    static let segment = StageDefinition(
        type: "segment", category: .model,
        summary: "Segment with a 3D CNN by sliding-window inference (MONAI-compatible Gaussian blending, optional mirror TTA); the result is a label map on the source's grid.",
        parameters: inputParameters + [
            ParameterSpec("roi", .array(of: .integer(1...1024), count: 3...3), default: .array([.int(96), .int(96), .int(96)]),
                          doc: "window size along i, j, k in voxels; a multiple of the network's downsampling factor"),
            ParameterSpec("overlap", .number(0...0.95), default: .number(0.5), doc: "fraction of the window shared by neighbouring windows"),
            ParameterSpec("blend", .choice(["gaussian", "constant"]), default: .string("gaussian"),
                          doc: "weighting of overlapping windows: Gaussian (σ = sigmaScale × roi, as MONAI and nnU-Net) or equal"),
            ParameterSpec("sigmaScale", .number(0.01...10), default: .number(0.125), doc: "Gaussian σ as a fraction of the window size"),
            ParameterSpec("batchSize", .integer(1...64), default: .int(1), doc: "windows run through the network together"),
            ParameterSpec("mirror", .array(of: .choice(["i", "j", "k"]), count: 1...3), optional: true,
                          doc: "test-time augmentation: also run on the image flipped along every combination of these axes and average (2ⁿ × the time)"),
            ParameterSpec("activation", .choice(["softmax", "sigmoid"]), default: .string("softmax"),
                          doc: "softmax: label = the highest-scoring channel (channel 0 = background); sigmoid: label = 1 + the highest channel whose probability reaches threshold, else 0"),
            ParameterSpec("threshold", .number(0.000001...0.999999), default: .number(0.5), doc: "sigmoid probability a channel needs (sigmoid only)"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: "the model's label table (a JSON file, or inline): names, colours and codes of its labels, used by the writers and reports that take this stage's labels and name no table of their own"),
        ],
        produces: .kind(.labels),
        make: { c in
            let network = try loadNetwork(c)
            guard !network.isClassifier else { throw CaseError.invalidParameters(stage: c.id, reason: "\"segment\" needs a segmentation network; use \"classify\" for a classifier") }
            let p = c.parameters
            let roiIJK = p.ints("roi") ?? [96, 96, 96]
            let axes = (p.strings("mirror") ?? []).compactMap { ["k": 0, "j": 1, "i": 2][$0] }
            let window = try SlidingWindow(roi: roiIJK.reversed(), overlap: p.double("overlap") ?? 0.5,
                                           blend: p.string("blend") == "constant" ? .constant : .gaussian(sigmaScale: p.double("sigmaScale") ?? 0.125),
                                           batchSize: p.int("batchSize") ?? 1, mirrorAxes: axes)
            if let bad = window.roi.first(where: { $0 % network.sizeMultiple != 0 }) {
                throw CaseError.invalidParameters(stage: c.id, reason: "roi size \(bad) is not a multiple of \(network.sizeMultiple), which this network needs")
            }
            let rule: SlidingWindow.LabelRule = p.string("activation") == "sigmoid" ? .sigmoid(threshold: Float(p.double("threshold") ?? 0.5)) : .argmax
            return SegmentStage(id: c.id, inputs: NetworkInputs(p), network: network, window: window, rule: rule, table: try DICOMWriterSupport.table(c))
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
            let network = try loadNetwork(c)
            guard network.isClassifier else { throw CaseError.invalidParameters(stage: c.id, reason: "\"classify\" needs a classification network; use \"segment\" for a segmentation network") }
            let names = c.parameters.strings("classNames") ?? (0..<network.outChannels).map { "class \($0)" }
            guard names.count == network.outChannels else {
                throw CaseError.invalidParameters(stage: c.id, reason: "\(names.count) class names for a network with \(network.outChannels) outputs")
            }
            return ClassifyStage(inputs: NetworkInputs(c.parameters), network: network, activation: try c.string("activation"),
                                 names: names, weightsFile: try c.string("weights"))
        })

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

    /// The `1 × C × nz × ny × nx` input and the grid, checking that every image shares the source's grid.
    func tensor(_ context: inout CaseContext, channels expected: Int) throws -> (Tensor, Volume) {
        let first = try context.image(ids[0])
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
        guard channels == expected else {
            throw CaseError.model(stage: nil, reason: "the network takes \(expected) input channel(s), but \(ids.joined(separator: " + ")) give \(channels)")
        }
        let size = first.geometry.size
        return (try Tensor(shape: [1, channels, size.z, size.y, size.x], data: data), first)
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

    func run(_ context: inout CaseContext) throws -> StageValue? {
        if let table { context.labelTables[id] = table }
        let (input, image) = try inputs.tensor(&context, channels: network.inChannels)
        let voxels: VoxelArray
        do {
            voxels = try window.labels(input, network: network, rule: rule)
        } catch let error as NNError {
            throw CaseError.model(stage: nil, reason: "\(error)")
        }
        var metadata = image.metadata
        metadata.intensityUnit = nil
        return .labels(try LabelMap(Volume(geometry: image.geometry, voxels: voxels, metadata: metadata)))
    }
}

/// `classify`: one forward pass over the whole volume; scores in the report.
struct ClassifyStage: Stage {
    let inputs: NetworkInputs
    let network: any Network
    let activation: String
    let names: [String]
    let weightsFile: String

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let (input, _) = try inputs.tensor(&context, channels: network.inChannels)
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
            ("weights", .string((weightsFile as NSString).lastPathComponent)),
        ]))
    }

    /// Scores to 6 decimals, so reports are stable across builds.
    static func rounded(_ x: Float) -> Double { (Double(x) * 1e6).rounded() / 1e6 }
}
