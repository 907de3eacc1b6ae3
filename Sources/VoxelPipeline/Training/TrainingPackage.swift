import Foundation
import VoxelIO
import VoxelSupport

extension TrainingOutputs {
    /// Writes `model/`, a model package of the run's best weights (see docs/models.md): the network, the training
    /// pipeline's stages that lead to the network's image without touching the labels (as the package's
    /// preprocessing, on `"input"`), the patch as the sliding-window size, the class names of a classifier, and a
    /// model card with the split and the measured scores. `segment` / `classify` then run it with `"model"`.
    ///
    /// A pipeline whose image is built from more than one input, or with stages a package cannot hold, gets no
    /// package; the reason is returned (and logged by the trainer). The package is checked by loading it before
    /// it is moved into place.
    /// - Returns: nil when the package was written, else why not.
    static func writeModelPackage(run: RunFolder, spec: PipelineSpec, training: TrainingSpec, split: TrainingSplit,
                                  summary: TrainingSummary) throws -> String? {
        guard FileManager.default.fileExists(atPath: run.best) else { return "no best weights were written" }
        let source = (try? JSONParser.parse(String(decoding: FileManager.default.contents(atPath: run.path + "/pipeline.json") ?? Data(), as: UTF8.self)).json) ?? .null
        guard case .array(let stages)? = source["stages"] else { return "the run's pipeline.json has no stages" }
        // The stages the network's image comes from, in pipeline order, back to one image input.
        let inputNames = Set(spec.inputs.map(\.name))
        var byID: [String: JSON] = [:]
        for stage in stages { if let id = stage["id"]?.stringValue { byID[id] = stage } }
        var chain: [String] = []
        var current = training.image
        var imageInput: String?
        while true {
            if inputNames.contains(current) { imageInput = current; break }
            guard let stage = byID[current] else { return "the network's image \"\(current)\" is neither an input nor a stage" }
            guard AugmentationStages.augmentationType[stage["type"]?.stringValue ?? ""] == nil else {
                return "the network's image passes through augmentation stage \"\(current)\""
            }
            chain.insert(current, at: 0)
            guard let from = stage["source"]?.stringValue else { return "stage \"\(current)\" has no single source" }
            guard case .object(let parameters) = stage else { return "stage \"\(current)\" is not an object" }
            for (key, value) in parameters where key != "source" && key != "id" && key != "type" {
                if let ref = value.stringValue, inputNames.contains(ref) || byID[ref] != nil {
                    return "stage \"\(current)\" reads \"\(ref)\" besides its source; a model package's preprocessing has one input"
                }
            }
            current = from
        }
        guard let imageInput, spec.inputs.first(where: { $0.name == imageInput })?.kind == .image else {
            return "the network's image does not come from an image input"
        }
        let preprocessing: [JSON] = chain.compactMap { id in
            guard case .object(let members)? = byID[id] else { return nil }
            return .object(members.map { key, value in
                key == "source" && value.stringValue == imageInput ? (key, .string(ModelPackage.inputID)) : (key, value)
            })
        }
        var metrics: [(String, JSON)] = []
        if let dice = summary.bestDice {
            metrics.append((training.isClassification ? "bestValidationScore" : "bestValidationMeanDice", .number(dice)))
        }
        if let epoch = summary.bestEpoch { metrics.append(("bestEpoch", .int(epoch))) }
        if let dice = summary.testMeanDice { metrics.append(("testMeanDice", .number(dice))) }
        if let accuracy = summary.testAccuracy { metrics.append(("testAccuracy", .number(accuracy))) }
        if summary.testCases > 0 { metrics.append(("testCases", .int(summary.testCases))) }
        let card: JSON = .object([
            ("description", .string("Trained by voxelflow train with the pipeline \"\(spec.name)\"")),
            ("trainingData", .string("\(split.train.count) training, \(split.validation.count) validation and \(split.test.count) test case(s) of input \"\(imageInput)\"; the split is in the run folder (split.json)")),
            ("metrics", .object(metrics)),
            ("intendedUse", .string("Research. Not validated for diagnostic use.")),
            ("source", .string("voxelflow train, run \((run.path as NSString).lastPathComponent), checkpoints/best.safetensors")),
        ])
        let network = training.network
        let channels = network["in"]?.doubleValue.map { Int($0) } ?? 1
        var members: [(String, JSON)] = [
            ("voxelflowModel", .int(ModelPackage.formatVersion)), ("name", .string(spec.name)), ("version", .string("1")),
            ("task", .string(training.isClassification ? "classification" : "segmentation")),
            ("summary", .string(spec.description ?? "Trained by voxelflow train (\(spec.name))")),
            ("network", network), ("tensorAxes", .string(TensorAxes.kji.rawValue)), ("weights", .string("weights.safetensors")),
            ("input", .object([("channels", .int(channels))])), ("preprocessing", .array(preprocessing)),
        ]
        if training.isClassification {
            members.append(("classNames", .array(training.classes.map { .string($0) })))
        } else {
            members.append(("inference", .object([("roi", .array(training.patch.map { .int($0) })), ("overlap", .number(0.5))])))
        }
        members.append(("card", card))
        let final = run.path + "/model"
        let temporary = run.path + "/.model.partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try FileManager.default.copyItem(atPath: run.best, toPath: temporary + "/weights.safetensors")
        try AtomicFile.write(Array((JSON.object(members).serialized(pretty: true) + "\n").utf8), to: temporary + "/" + ModelPackage.fileName)
        do {
            let package = try ModelPackage.load(temporary)
            try ModelPackage.checkWeights(package)
        } catch {
            return "the package does not load: \(error)"
        }
        // The run folder is the trainer's own: a package from an earlier (resumed) run is replaced.
        try? FileManager.default.removeItem(atPath: final)
        guard rename(temporary, final) == 0 else { return "cannot move the package into place: \(String(cString: strerror(errno)))" }
        return nil
    }
}
