import Foundation
import VoxelCore
import VoxelIO
import VoxelNN

/// `nnunet`: runs a trained nnU-Net v2 model folder as nnU-Net's predictor does (its own preprocessing,
/// sliding window, mirroring, fold averaging and resampling back) and gives a label map on the source's
/// grid carrying the label names of the model's `dataset.json`.
struct NNUNetStage: Stage {
    static let definition = StageDefinition(
        type: "nnunet", category: .model,
        summary: "Segment with a trained nnU-Net v2 model folder (plans.json, dataset.json, fold_N/checkpoint_final.pth), exactly as nnUNetv2_predict; the result is a label map on the source's grid named after the model's labels.",
        parameters: [
            CommonParameters.source([.image], doc: "the image as read (no normalisation: the model folder's own preprocessing runs); nnU-Net's channel 0"),
            ParameterSpec("extraChannels", .array(of: .reference([.image]), count: 1...16), optional: true,
                          doc: "the model's further input channels (_0001, _0002, …) in order, on the source's grid"),
            ParameterSpec("model", .string, doc: "the model folder (relative to the pipeline file): the trainer folder nnU-Net wrote, e.g. Dataset001_X/nnUNetTrainer__nnUNetPlans__3d_fullres"),
            ParameterSpec("configuration", .string, optional: true, doc: "3d_fullres, 3d_lowres or 2d; default: the configuration the checkpoint was trained with"),
            ParameterSpec("folds", .array(of: .string, count: 1...20), optional: true, doc: "folds to average, e.g. [\"0\", \"1\"] or [\"all\"]; default: every fold_N folder holding the checkpoint"),
            ParameterSpec("checkpoint", .string, default: .string("checkpoint_final.pth"), doc: "checkpoint file name inside each fold folder (.pth, or .safetensors with the same tensor names)"),
            ParameterSpec("mirror", .boolean, default: .bool(true), doc: "test-time mirroring over the axes the trainer allows (nnU-Net's default; false = --disable-tta, about 8× faster in 3-D)"),
            ParameterSpec("tileStep", .number(0.05...1), default: .number(0.5), doc: "sliding-window step as a fraction of the patch (nnU-Net's tile_step_size)"),
            ParameterSpec("previous", .reference([.labels]), optional: true, doc: "for a cascade stage (3d_cascade_fullres): the labels of the stage before it (an earlier nnunet stage running 3d_lowres), on the source's grid"),
        ],
        produces: .kind(.labels),
        make: { c in
            let p = c.parameters
            let folder = try c.string("model")
            let path = folder.hasPrefix("/") ? folder : "\(c.pipelineDirectory)/\(folder)"
            let model: NNUNetModel
            do {
                model = try NNUNetModel(folder: path, configuration: p.string("configuration"), folds: p.strings("folds"),
                                        checkpoint: p.string("checkpoint") ?? "checkpoint_final.pth")
            } catch let error as NNError {
                throw CaseError.model(stage: c.id, reason: "\(error)")
            }
            if model.plans.previousStage != nil, p.string("previous") == nil {
                throw CaseError.invalidParameters(stage: c.id, reason: "\(model.plans.configuration) is a cascade stage: name the \(model.plans.previousStage ?? "previous") stage's labels in \"previous\"")
            }
            return NNUNetStage(id: c.id, inputs: NetworkInputs(p), model: model, mirror: p.bool("mirror") ?? true, tileStep: p.double("tileStep") ?? 0.5,
                               previous: p.string("previous"))
        })

    let id: String
    let inputs: NetworkInputs
    let model: NNUNetModel
    let mirror: Bool
    let tileStep: Double
    let previous: String?

    /// The model's labels as a label table (background left out).
    static func table(_ model: NNUNetModel) -> LabelTable {
        LabelTable(model.dataset.labelNames.filter { $0.value > 0 }.map { LabelInfo(value: $0.value, name: $0.name) })
    }

    /// Refuses an input whose recorded modality (from DICOM) contradicts the channel name `dataset.json`
    /// gives (`CT`, `MR`/`T1`/`T2`/`FLAIR`/`ADC`, `PET`); NIfTI inputs record no modality and pass.
    static func checkModalities(_ model: NNUNetModel, _ images: [Volume], ids: [String]) throws {
        for (i, image) in images.enumerated() where i < model.dataset.channelNames.count {
            guard let modality = image.metadata.modality?.uppercased() else { continue }
            let channel = model.dataset.channelNames[i].uppercased()
            let expected: String?
            if channel == "CT" || channel.hasPrefix("CT") { expected = "CT" }
            else if ["MR", "MRI", "T1", "T2", "FLAIR", "ADC", "DWI", "T1W", "T2W", "T1C", "T1CE"].contains(channel) { expected = "MR" }
            else if channel == "PET" || channel == "PT" { expected = "PT" }
            else { expected = nil }
            if let expected, modality != expected {
                throw CaseError.model(stage: nil, reason: "the model's channel \(i) is \(model.dataset.channelNames[i]) (dataset.json), but \"\(ids[i])\" is \(modality)")
            }
        }
    }

    func run(_ context: inout CaseContext) throws -> StageValue? {
        context.labelTables[id] = Self.table(model)
        let channels = model.dataset.channelNames.count
        try Self.checkModalities(model, inputs.ids.map { try context.image($0) }, ids: inputs.ids)
        let image = try inputs.stacked(&context)
        guard image.timePoints == channels else {
            throw CaseError.model(stage: nil, reason: "the model takes \(channels) input channel(s), but \(inputs.ids.joined(separator: " + ")) give \(image.timePoints)")
        }
        let size = image.geometry.size, count = image.geometry.voxelCount
        let all = image.physicalFloats()
        let data = (0..<channels).map { Array(all[($0 * count)..<(($0 + 1) * count)]) }
        let s = image.geometry.spacing
        var previousLabels: [UInt16]?
        if let previous, model.plans.previousStage != nil {
            let labels = try context.labels(previous)
            guard labels.geometry.size == image.geometry.size else {
                throw CaseError.gridMismatch("\"\(previous)\" is \(labels.geometry.size), but the source is \(image.geometry.size)")
            }
            previousLabels = (0..<labels.volume.voxels.count).map { UInt16(clamping: Int(labels.volume.voxels.value(at: $0))) }
        }
        let prediction: NNUNetModel.Prediction
        do {
            prediction = try model.predict(channels: data, shape: [size.z, size.y, size.x], spacing: [s.z, s.y, s.x], mirror: mirror, tileStep: tileStep,
                                           previous: previousLabels)
        } catch let error as NNError {
            throw CaseError.model(stage: nil, reason: "\(error)")
        }
        let wide = (model.dataset.labelNames.map(\.value).max() ?? 0) > 255
        let voxels: VoxelArray = wide ? .uint16(prediction.labels) : .uint8(prediction.labels.map { UInt8($0) })
        var metadata = image.metadata
        metadata.intensityUnit = nil
        return .labels(try LabelMap(Volume(geometry: image.geometry, voxels: voxels, metadata: metadata)))
    }
}
