import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelNN

struct NNUNetPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nnunet-predict",
        abstract: "Predict a folder of images with a trained nnU-Net v2 model folder, as nnUNetv2_predict does.",
        discussion: """
        INPUT_DIR holds images named as nnU-Net expects: CASE_0000.nii.gz (one file per input channel:
        _0000, _0001, …; the file ending is the model's dataset.json file_ending). MODEL_DIR is the trainer \
        folder nnU-Net wrote (plans.json, dataset.json, fold_N/checkpoint_final.pth), e.g. \
        Dataset001_X/nnUNetTrainer__nnUNetPlans__3d_fullres. Each case's labels are written as \
        OUTPUT_DIR/CASE.nii.gz on the input's grid, with the label names from dataset.json in \
        CASE.labels.json beside it. --save-probabilities also writes CASE_probabilities.nii.gz: float32, one \
        volume per class (4th axis), where nnU-Net writes CASE.npz.

        Checkpoints are read natively (a restricted reader that never executes code from the file); nothing \
        needs Python. Preprocessing, sliding window (step --step-size, Gaussian weighting), mirroring, fold \
        averaging and resampling back are nnU-Net's. A cascade stage (3d_cascade_fullres) takes the 3d_lowres \
        predictions with --prev-stage-predictions, as nnUNetv2_predict does.

        A case that fails (missing channel, unreadable file) is reported and the others continue; the exit \
        code is then 4. Existing outputs are replaced only with --force.

        \(ExitCodes.help)
        """
    )

    @Option(name: .customShort("i"), help: "Input folder (CASE_0000.nii.gz, CASE_0001.nii.gz, …).")
    var input: String

    @Option(name: .customShort("o"), help: "Output folder (created when missing).")
    var output: String

    @Option(name: .customShort("m"), help: "The model folder (plans.json, dataset.json, fold_N/).")
    var model: String

    @Option(name: .customShort("f"), parsing: .upToNextOption, help: "Folds to average (e.g. -f 0 1 2 3 4, or -f all); default: every fold_N folder with the checkpoint.")
    var folds: [String] = []

    @Option(name: .customShort("c"), help: "Configuration (3d_fullres, 3d_lowres, 2d); default: the one the checkpoint was trained with.")
    var configuration: String?

    @Option(name: [.customLong("chk", withSingleDash: true), .customLong("checkpoint")], help: "Checkpoint file name in each fold folder.")
    var checkpoint: String = "checkpoint_final.pth"

    @Option(name: [.customLong("step_size", withSingleDash: true), .customLong("step-size")], help: "Sliding-window step as a fraction of the patch.")
    var stepSize: Double = 0.5

    @Option(name: [.customLong("prev_stage_predictions", withSingleDash: true), .customLong("prev-stage-predictions")],
            help: "For a cascade stage (3d_cascade_fullres): the folder with the previous stage's CASE.nii.gz predictions.")
    var previousStage: String?

    @Flag(name: [.customLong("disable-tta"), .customLong("disable_tta")], help: "No test-time mirroring (about 8× faster for 3-D models).")
    var disableTTA = false

    @Flag(name: [.customLong("save-probabilities"), .customLong("save_probabilities")], help: "Also write CASE_probabilities.nii.gz.")
    var saveProbabilities = false

    @Flag(name: .long, help: "Replace outputs that exist.")
    var force = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        guard stepSize > 0, stepSize <= 1 else { throw ValidationError("--step-size must be in (0, 1]") }
    }

    func run() throws {
        let loaded: NNUNetModel
        let cases: [(name: String, files: [String], channels: [Int])]
        do {
            loaded = try NNUNetModel(folder: model, configuration: configuration, folds: folds.isEmpty ? nil : folds, checkpoint: checkpoint)
            cases = try Self.cases(in: input, ending: loaded.dataset.fileEnding)
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitCodes.fail(error)
        }
        if !quiet {
            print("nnU-Net \(loaded.plans.configuration) \(loaded.networks[0].className), folds \(loaded.folds.joined(separator: " ")), \(cases.count) case\(cases.count == 1 ? "" : "s"), mirroring \(disableTTA ? "off" : "on")")
        }
        let table = LabelTable(loaded.dataset.labelNames.filter { $0.value > 0 }.map { LabelInfo(value: $0.value, name: $0.name) })
        var failed = 0
        for (name, files, channels) in cases {
            let start = Date()
            do {
                let expected = loaded.dataset.channelNames.count
                guard channels == Array(0..<expected) else {
                    let missing = (0..<expected).filter { !channels.contains($0) }.map { "\(name)_\(String(format: "%04d", $0))\(loaded.dataset.fileEnding)" }
                    throw InputError(description: missing.isEmpty
                        ? "has channel files beyond the \(expected) the model takes (\(channels.map { String(format: "%04d", $0) }.joined(separator: ", ")))"
                        : "lacks \(missing.joined(separator: ", ")) in \(input); the model takes \(expected) channel(s)")
                }
                try predict(name, files, loaded, table)
                if !quiet { print("\(name): wrote \(output)/\(name)\(loaded.dataset.fileEnding) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s") }
            } catch let error as ExitCode where error.rawValue == ExitCodes.cannotWrite {
                throw error
            } catch {
                failed += 1
                printError("voxelflow: error: \(name): \(error)")
            }
        }
        if failed > 0 {
            printError("voxelflow: \(failed) of \(cases.count) case\(cases.count == 1 ? "" : "s") failed")
            throw ExitCode(ExitCodes.casesFailed)
        }
    }

    private func predict(_ name: String, _ files: [String], _ model: NNUNetModel, _ table: LabelTable) throws {
        let labelPath = "\(output)/\(name)\(model.dataset.fileEnding)"
        let tablePath = LabelTable.sidecarPath(for: labelPath)
        let probabilityPath = "\(output)/\(name)_probabilities\(model.dataset.fileEnding)"
        do {
            try OutputGuard.check(NIfTI.datasetFiles(labelPath) + [tablePath] + (saveProbabilities ? NIfTI.datasetFiles(probabilityPath) : []),
                                  name: labelPath, inputs: files, force: force)
        } catch {
            throw ExitCodes.fail(error)
        }
        let images = try files.map { try NIfTI.read($0) }
        let first = images[0]
        for (file, image) in zip(files, images) {
            guard image.volume.timePoints == 1 else { throw InputError(description: "\(file): has \(image.volume.timePoints) time points; nnU-Net takes one file per channel") }
            guard image.volume.geometry.size == first.volume.geometry.size else {
                throw InputError(description: "\(file): its size \(image.volume.geometry.size) differs from \(files[0])'s \(first.volume.geometry.size)")
            }
        }
        let g = first.volume.geometry
        var previous: [UInt16]?
        if model.plans.previousStage != nil {
            guard let folder = previousStage else {
                throw InputError(description: "\(model.plans.configuration) is a cascade stage: give the \(model.plans.previousStage ?? "previous stage")'s predictions with --prev-stage-predictions")
            }
            let path = "\(folder)/\(name)\(model.dataset.fileEnding)"
            let labels = try NIfTI.read(path).volume
            guard labels.geometry.size == g.size, labels.timePoints == 1 else {
                throw InputError(description: "\(path): the previous stage's labels are \(labels.geometry.size), the image is \(g.size)")
            }
            previous = (0..<labels.voxels.count).map { UInt16(clamping: Int(labels.voxels.value(at: $0))) }
        }
        var lastShown = -1
        let prediction = try model.predict(channels: images.map { $0.volume.physicalFloats() }, shape: [g.size.z, g.size.y, g.size.x],
                                           spacing: [g.spacing.z, g.spacing.y, g.spacing.x], mirror: !disableTTA, tileStep: stepSize,
                                           probabilities: saveProbabilities, previous: previous) { done, total in
            guard !quiet else { return }
            let percent = done * 100 / max(total, 1)
            if percent / 10 != lastShown / 10 {
                lastShown = percent
                printError("\(name): \(done)/\(total) windows")
            }
        }
        let wide = (table.labels.map(\.value).max() ?? 0) > 255
        var metadata = first.volume.metadata
        metadata.intensityUnit = nil
        let labels = try Volume(geometry: g, voxels: wide ? .uint16(prediction.labels) : .uint8(prediction.labels.map { UInt8($0) }), metadata: metadata)
        var options = NIfTIWriteOptions.preserving(first.header)
        options.intentCode = NIfTIWriteOptions.labelIntent
        try NIfTI.write(labels, to: labelPath, options: options)
        do {
            try AtomicFile.write(Array((table.json.serialized() + "\n").utf8), to: tablePath)
            if let probabilities = prediction.probabilities {
                let volume = try Volume(geometry: g, voxels: .float32(probabilities.flatMap { $0 }), timePoints: probabilities.count, metadata: metadata)
                var probabilityOptions = NIfTIWriteOptions.preserving(first.header)
                probabilityOptions.intentCode = 0
                try NIfTI.write(volume, to: probabilityPath, options: probabilityOptions)
            }
        } catch {
            for file in NIfTI.datasetFiles(labelPath) + [tablePath] { unlink(file) }
            throw error
        }
    }

    /// The cases of an input folder: `CASE_XXXX<ending>` grouped by CASE, channels 0…n−1 all present.
    static func cases(in folder: String, ending: String) throws -> [(name: String, files: [String], channels: [Int])] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw InputError(description: "\(folder): cannot list the input folder (\(error.localizedDescription))")
        }
        var byCase: [String: [Int: String]] = [:]
        for file in entries where file.hasSuffix(ending) {
            let stem = file.dropLast(ending.count)
            guard stem.count > 5, stem[stem.index(stem.endIndex, offsetBy: -5)] == "_", let channel = Int(stem.suffix(4)) else { continue }
            byCase[String(stem.dropLast(5)), default: [:]][channel] = "\(folder)/\(file)"
        }
        guard !byCase.isEmpty else {
            throw InputError(description: "\(folder): no images named CASE_0000\(ending) (nnU-Net's naming: one file per channel, _0000, _0001, …)")
        }
        return byCase.keys.sorted().map { name in
            let files = byCase[name] ?? [:]
            return (name, files.keys.sorted().compactMap { files[$0] }, files.keys.sorted())
        }
    }
}
