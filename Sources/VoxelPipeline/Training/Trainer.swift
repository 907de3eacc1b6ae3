import Foundation
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelNN
import VoxelSupport
import VoxelTransforms

/// Options of a training run (`voxelflow train`).
public struct TrainOptions: Sendable {
    /// The archive folder holding the scans and labels.
    public var archive: String
    /// The run folder.
    public var output: String
    /// Continue from `checkpoints/last.safetensors`.
    public var resume = false
    /// Cores used by the kernels (nil: all).
    public var jobs: Int?
    /// The pipeline file's bytes (for `pipeline.json` and its SHA-256).
    public var pipelineBytes: [UInt8] = []
    public var toolVersion = ""

    public init(archive: String, output: String) {
        self.archive = archive
        self.output = output
    }
}

/// What a finished (or interrupted) training run did.
public struct TrainingSummary: Sendable {
    public var epochsDone: Int
    public var stepsDone: Int
    public var interrupted: Bool
    public var bestDice: Double?
    public var bestEpoch: Int?
    /// Test cases measured with the best weights (`test-metrics.csv`), and their mean foreground Dice.
    public var testCases: Int = 0
    public var testMeanDice: Double?
    /// A classifier's accuracy on the test cases (`test-classes.csv`).
    public var testAccuracy: Double?
    /// Whether the run trained a classifier (its best score is accuracy-based, not a Dice).
    public var isClassifier = false
    /// Cases left out (unreadable, failing a stage, or without labels) with the reason.
    public var excluded: [(String, String)]
}

/// Trains a network from a training pipeline: preprocesses every case of the split once (the pipeline's
/// stages, kept in memory), then runs `epochs × iterationsPerEpoch` steps of patch batches with the
/// augmentations, validating by sliding-window inference on the whole preprocessed validation volumes.
///
/// Reproducible: the batch of global step s is drawn from a generator seeded by the pipeline seed and s
/// alone, and the checkpoint holds the parameters, the optimiser state and the position, so a run stopped
/// and resumed gives the same weights as one that was not (same machine and `--jobs`).
public struct Trainer: Sendable {
    public let spec: PipelineSpec
    public let training: TrainingSpec

    /// - Throws: `TrainingError.notATrainingPipeline` when the pipeline has no training section.
    public init(spec: PipelineSpec, file: String) throws {
        guard let training = spec.training else { throw TrainingError.notATrainingPipeline(file) }
        self.spec = spec
        self.training = training
    }

    /// Runs (or resumes) training. `log` receives one progress line per epoch and notes.
    /// - Throws: `TrainingError` for an unusable output folder, split or data; `RunError` for the archive.
    public func run(_ options: TrainOptions, control: RunControl = RunControl(), log: (String) -> Void) throws -> TrainingSummary {
        let run = RunFolder(path: options.output)
        try run.prepare(resume: options.resume)
        let sha = spec.sha256
        // Cases and split.
        let discovery = try CaseDiscovery.survey(spec, archive: options.archive)
        var excluded: [(String, String)] = discovery.cases.compactMap { c in c.problem.map { (c.id, $0) } }
        let usable = discovery.cases.filter { $0.problem == nil }
        if usable.isEmpty { throw TrainingError.noUsableCases(discovery.emptyReason ?? excluded.first.map { "\($0.0): \($0.1)" } ?? "the archive holds no case") }
        let split = try TrainingSplit.make(training.split, ids: usable.map(\.id))
        if options.resume, let data = FileManager.default.contents(atPath: run.split),
           let recorded = try? JSONParser.parse(String(decoding: data, as: UTF8.self)).json, recorded != split.json {
            throw TrainingError.output("\(run.split): the archive's cases now split differently than when the run started; resume with the same archive")
        }
        try AtomicFile.write(Array(split.json.serialized().utf8) + [10], to: run.split)
        try AtomicFile.write(options.pipelineBytes, to: run.path + "/pipeline.json")
        try AtomicFile.write(Array(training.resolved.serialized().utf8) + [10], to: run.path + "/training.resolved.json")

        // A classifier's targets: the class of every case, from the archive's class table.
        let classOf = training.isClassification ? try CaseClassTable.read(options.archive + "/" + training.caseClasses, classes: training.classes) : [:]
        // Preprocess every case once.
        let byID = Dictionary(usable.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func prepare(_ ids: [String]) -> [TrainingCase] {
            ids.compactMap { id in
                guard let c = byID[id] else { return nil }
                do {
                    return try prepareCase(c, staging: run.path + "/.staging", classOf: classOf)
                } catch {
                    excluded.append((id, "\(error)"))
                    log("excluded \(id): \(error)")
                    return nil
                }
            }
        }
        let trainCases = prepare(split.train)
        let validationCases = prepare(split.validation)
        try? FileManager.default.removeItem(atPath: run.path + "/.staging")
        guard !trainCases.isEmpty else { throw TrainingError.noUsableCases("every training case failed: \(excluded.map { "\($0.0): \($0.1)" }.joined(separator: "; "))") }

        // Network, parameters, optimiser, position.
        guard let network = try Networks.make(training.network) as? any TrainableNetwork else {
            throw TrainingError.data("\(training.network["type"]?.stringValue ?? "this network") cannot be trained")
        }
        let classes = network.outChannels
        let loss = try training.makeLoss()
        var (optimizer, baseRate) = try training.makeOptimizer()
        let schedule = try training.makeSchedule()
        var state = TrainingState()
        var params: ParameterStore
        var logLines: [String] = []
        if options.resume, FileManager.default.fileExists(atPath: run.last) {
            let checkpoint = try Safetensors(path: run.last)
            if let recorded = checkpoint.metadata["pipeline_sha256"], recorded != sha {
                throw TrainingError.output("\(run.last): the pipeline changed since this run started (SHA-256 \(recorded.prefix(12))…, now \(sha.prefix(12))…); start a new run folder")
            }
            params = try ParameterStore(network: network, weights: checkpoint)
            state = TrainingState(metadata: checkpoint.metadata)
            try optimizer.restore(from: checkpoint, step: state.optimizerStep)
            // The checkpoint carries the log of the epochs it contains (the log file is written after it).
            logLines = (checkpoint.metadata["log"] ?? "").split(separator: "\n").map(String.init)
            log("resuming at epoch \(state.epoch + 1), step \(state.step)")
        } else {
            if options.resume { log("no checkpoint was written yet: starting from the beginning") }
            params = try ParameterStore.initialized(for: network, seed: spec.seed)
        }
        var builder = BatchBuilder(cases: trainCases, sampler: try PatchSampler(size: training.patch, positiveFraction: training.positiveFraction),
                                   augmentations: try (training.augmentation + spec.stages.compactMap(AugmentationStages.sectionEntry)).map(BatchBuilder.Augmentation.init),
                                   batch: training.batch)
        builder.classification = training.isClassification
        let total = training.epochs * training.iterationsPerEpoch
        let threads = options.jobs ?? ComputeBudget.threads
        var interrupted = false
        let seed = spec.seed
        let prefetcher = BatchPrefetcher(builder: builder, seed: { Self.stepSeed(seed, $0) })
        defer { prefetcher.finish() }
        try ComputeBudget.withThreads(threads) {
            epochs: while state.epoch < training.epochs {
                let epochStart = Clock.now()
                while state.iteration < training.iterationsPerEpoch {
                    if control.stopRequested { interrupted = true; break epochs }
                    let (input, target) = try prefetcher.batch(for: state.step, next: state.step + 1 < total ? state.step + 1 : nil)
                    // The dropout masks of a step come from the step's seed, so a resumed run draws the same ones.
                    var step = try TrainingStep.run(network: network, parameters: params, input: input, target: target, loss: loss,
                                                    dropoutSeed: Self.stepSeed(seed, state.step) ^ 0xD1B5_4A32_D192_ED03)
                    if let clip = training.clipGradient { clipGradientNorm(&step.gradients, maxNorm: Float(clip)) }
                    let rate = schedule.rate(base: baseRate, step: state.step, total: total)
                    try optimizer.update(&params, gradients: step.gradients, lr: rate)
                    params.updateRunningStatistics(step.batchStatistics)
                    state.lossSum += Double(step.loss)
                    state.lossCount += 1
                    state.lastRate = rate
                    state.step += 1
                    state.iteration += 1
                }
                // End of the epoch: validate, log, checkpoint.
                let epoch = state.epoch + 1
                var line: [(String, JSON)] = [("epoch", .int(epoch)), ("step", .int(state.step)),
                                              ("loss", .number(state.lossSum / Double(max(1, state.lossCount)))), ("lr", .number(state.lastRate))]
                var progress = "epoch \(epoch)/\(training.epochs)  loss \(Self.format(state.lossSum / Double(max(1, state.lossCount))))"
                if !validationCases.isEmpty && (epoch % training.validationInterval == 0 || epoch == training.epochs) {
                    let dice: (perClass: [Double?], mean: Double?)
                    if training.isClassification {
                        let v = try validateClassifier(network: network, parameters: params, cases: validationCases)
                        dice = ([], v.score)
                        line.append(("validationAccuracy", .number(v.accuracy)))
                        line.append(("validationTrueClassProbability", .number(v.trueProbability)))
                        progress += "  validation accuracy \(Self.format(v.accuracy)) (true-class probability \(Self.format(v.trueProbability)))"
                    } else {
                        dice = try validate(network: network, parameters: params, cases: validationCases, classes: classes)
                        line.append(("validationDice", .array(dice.perClass.map { $0.map { .number($0) } ?? .null })))
                        line.append(("validationMeanDice", dice.mean.map { .number($0) } ?? .null))
                        progress += "  validation Dice \(dice.mean.map(Self.format) ?? "n/a")"
                    }
                    if let mean = dice.mean, mean > (state.bestDice ?? -1) {
                        state.bestDice = mean
                        state.bestEpoch = epoch
                        try AtomicFile.write(Safetensors.serialize(params.ordered, metadata: weightsMetadata(epoch: epoch, dice: mean)), to: run.best)
                    }
                }
                line.append(("seconds", .number(((Clock.now() - epochStart) * 1000).rounded() / 1000)))
                logLines.append(JSON.object(line).serialized(pretty: false))
                state.epoch += 1
                state.iteration = 0
                state.lossSum = 0
                state.lossCount = 0
                if validationCases.isEmpty {
                    // Without validation cases the last weights are the best known.
                    try AtomicFile.write(Safetensors.serialize(params.ordered, metadata: weightsMetadata(epoch: epoch, dice: nil)), to: run.best)
                }
                // Checkpoint first (it holds the log too), so a kill between the two never leaves a logged epoch
                // without its checkpoint.
                try writeCheckpoint(run, params, optimizer, state, sha: sha, log: logLines)
                try AtomicFile.write(Array((logLines.joined(separator: "\n") + "\n").utf8), to: run.log)
                log(progress + "  lr \(Self.format(state.lastRate))  (\(Self.format(Clock.now() - epochStart)) s)")
            }
            if interrupted {
                try writeCheckpoint(run, params, optimizer, state, sha: sha, log: logLines)
                log("stopped at epoch \(state.epoch + 1), step \(state.step); checkpoint written (continue with --resume)")
            }
        }
        // A finished run judges its best weights on the test cases, which it has never trained or validated on.
        var testRows: [[String]] = []
        var classifierTest: (accuracy: Double, rows: [[String]])?
        if !interrupted && !split.test.isEmpty && FileManager.default.fileExists(atPath: run.best) {
            let testCases = prepare(split.test)
            try? FileManager.default.removeItem(atPath: run.path + "/.staging")
            if !testCases.isEmpty && training.isClassification {
                classifierTest = try ComputeBudget.withThreads(threads) { try testClassifier(network: network, weights: run.best, cases: testCases, run: run) }
            } else if !testCases.isEmpty {
                testRows = try ComputeBudget.withThreads(threads) {
                    try test(network: network, weights: run.best, cases: testCases, classes: classes)
                }
                let options = Self.testOptions(classes: classes)
                let header = EvaluationTable.header(options)
                try AtomicFile.write(Array(EvaluationTable.csv(header: header, rows: testRows).utf8), to: run.testMetrics)
                let summary = EvaluationTable.summaryRows(header: header, rows: testRows, metrics: EvaluationTable.metricColumns(options))
                try AtomicFile.write(Array(EvaluationTable.csv(header: EvaluationTable.summaryHeader, rows: summary).utf8), to: run.testSummary)
            }
        }
        let testDice = Self.meanDice(testRows)
        if let testDice { log("test: \(Set(testRows.map { $0[0] }).count) case(s), mean Dice \(Self.format(testDice)) (test-metrics.csv)") }
        if let classifierTest { log("test: \(classifierTest.rows.count) case(s), accuracy \(Self.format(classifierTest.accuracy)) (test-classes.csv, test-predictions.csv)") }
        try TrainingOutputs.writeReport(run: run, spec: spec, training: training, logLines: logLines, split: split, excluded: excluded,
                                        testRows: testRows, testHeader: EvaluationTable.header(Self.testOptions(classes: classes)),
                                        classifierTest: classifierTest)
        try TrainingOutputs.writeInferencePipeline(run: run, spec: spec, training: training)
        let summary = TrainingSummary(epochsDone: state.epoch, stepsDone: state.step, interrupted: interrupted, bestDice: state.bestDice,
                                      bestEpoch: state.bestEpoch, testCases: classifierTest?.rows.count ?? Set(testRows.map { $0[0] }).count,
                                      testMeanDice: testDice, testAccuracy: classifierTest?.accuracy, isClassifier: training.isClassification, excluded: excluded)
        if !interrupted {
            if let reason = try TrainingOutputs.writeModelPackage(run: run, spec: spec, training: training, split: split, summary: summary) {
                log("no model package: \(reason)")
            } else {
                log("model package: \(run.path)/model (use it with \"model\" in segment or classify)")
            }
        }
        return summary
    }

    /// Runs the pipeline's stages on one case and returns its image and labels.
    func prepareCase(_ c: Case, staging: String, classOf: [String: Int] = [:]) throws -> TrainingCase {
        let dir = staging + "/" + c.id
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var context = CaseContext(caseID: c.id, inputs: c.inputs, seed: Runner.caseSeed(spec.seed, c.id), stagingDirectory: dir)
        guard let stages = spec.builtStages else { throw TrainingError.data("the pipeline's stages were not set up (validate it first)") }
        for (s, stage) in zip(spec.stages, stages) where AugmentationStages.augmentationType[s.type] == nil {
            context.currentStage = s.id
            if let reason = context.skipReason(s) {
                context.skip(s.id, reason: reason)
                continue
            }
            if let value = try stage.run(&context) { context.store(value, as: s.id) }
        }
        let image = try context.image(training.image)
        if training.isClassification {
            guard let k = classOf[c.id] else {
                throw TrainingError.data("\(c.id): the class table \(training.caseClasses) has no row for this case")
            }
            let size = image.geometry.size
            guard [size.x, size.y, size.z] == training.patch else {
                throw TrainingError.data("\(c.id): image \"\(training.image)\" is \(size.x)×\(size.y)×\(size.z) voxels but the classifier takes \(training.patch) (\"patch\"); give every case that size (resample, crop-or-pad)")
            }
            let empty = try LabelMap(Volume(geometry: image.geometry, voxels: .uint8([UInt8](repeating: 0, count: size.x * size.y * size.z))))
            return TrainingCase(id: c.id, image: image, label: empty, classIndex: k)
        }
        let label = try context.labels(training.label)
        guard image.geometry.size == label.geometry.size else {
            throw TrainingError.data("\(c.id): image \"\(training.image)\" is \(image.geometry.size) but labels \"\(training.label)\" are \(label.geometry.size); resample them onto one grid")
        }
        let classes = (try? Networks.make(training.network).outChannels) ?? 2
        if let bad = label.labelsPresent().first(where: { $0 < 0 || $0 >= classes }) {
            throw TrainingError.data("\(c.id): label value \(bad) is not a class of a network with \(classes) outputs (0…\(classes - 1))")
        }
        return TrainingCase(id: c.id, image: image, label: label)
    }

    /// Per-class Dice (classes 1…) of sliding-window labels on every validation case, averaged over the cases
    /// where the class is in the reference or the prediction (nil when it is in neither anywhere).
    func validate(network: any TrainableNetwork, parameters: ParameterStore, cases: [TrainingCase], classes: Int) throws -> (perClass: [Double?], mean: Double?) {
        var net: any Network = network
        try net.load(from: parameters.safetensors())
        let window = try SlidingWindow(roi: training.patch.reversed(), overlap: training.validationOverlap)
        var sums = [Double](repeating: 0, count: classes), counts = [Int](repeating: 0, count: classes)
        for c in cases {
            let predicted = try window.labels(c.image.trainingTensor(), network: net)
            let reference = c.label.volume.voxels
            var inter = [Int](repeating: 0, count: classes), p = [Int](repeating: 0, count: classes), r = [Int](repeating: 0, count: classes)
            for i in 0..<reference.count {
                let a = Int(predicted.value(at: i)), b = Int(reference.value(at: i))
                if a > 0 && a < classes { p[a] += 1 }
                if b > 0 && b < classes { r[b] += 1 }
                if a == b && a > 0 && a < classes { inter[a] += 1 }
            }
            for k in 1..<classes where p[k] + r[k] > 0 {
                sums[k] += 2 * Double(inter[k]) / Double(p[k] + r[k])
                counts[k] += 1
            }
        }
        let perClass: [Double?] = (1..<max(2, classes)).map { k in k < classes && counts[k] > 0 ? sums[k] / Double(counts[k]) : nil }
        let known = perClass.compactMap { $0 }
        return (perClass, known.isEmpty ? nil : known.reduce(0, +) / Double(known.count))
    }

    /// The evaluation of the test cases: every foreground class, surface Dice at 1 mm, HD95.
    static func testOptions(classes: Int) -> SegmentationEvaluationOptions {
        SegmentationEvaluationOptions(labels: Array(1..<max(2, classes)))
    }

    /// Sliding-window labels of `weights` on every test case, measured against its labels on the training grid
    /// (after the pipeline's stages): the rows of `test-metrics.csv`.
    func test(network: any TrainableNetwork, weights: String, cases: [TrainingCase], classes: Int) throws -> [[String]] {
        var net: any Network = network
        try net.load(from: Safetensors(path: weights))
        let window = try SlidingWindow(roi: training.patch.reversed(), overlap: training.validationOverlap)
        var rows: [[String]] = []
        for c in cases {
            let predicted = try window.labels(c.image.trainingTensor(), network: net)
            let prediction = try LabelMap(Volume(geometry: c.label.geometry, voxels: predicted))
            let evaluation = try SegmentationEvaluator.evaluate(prediction: prediction, reference: c.label, options: Self.testOptions(classes: classes))
            rows += EvaluationTable.rows(caseID: c.id, evaluation, names: [:])
        }
        return rows
    }

    /// The mean Dice of `metrics.csv`-style rows (nil without rows).
    static func meanDice(_ rows: [[String]]) -> Double? {
        guard let dice = EvaluationTable.header(.init()).firstIndex(of: "dice") else { return nil }
        let values = rows.compactMap { $0.count > dice ? Double($0[dice]) : nil }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    func weightsMetadata(epoch: Int, dice: Double?) -> [String: String] {
        var m = ["config": training.network.serialized(pretty: false), "epoch": String(epoch), "pipeline": spec.name]
        if let dice { m["validation_mean_dice"] = String(dice) }
        return m
    }

    func writeCheckpoint(_ run: RunFolder, _ params: ParameterStore, _ optimizer: Optimizer, _ state: TrainingState, sha: String,
                         log: [String]) throws {
        var metadata = state.metadata
        metadata["log"] = log.joined(separator: "\n")
        metadata["config"] = training.network.serialized(pretty: false)
        metadata["pipeline_sha256"] = sha
        metadata["optimizer_step"] = String(optimizer.step)
        try AtomicFile.write(Safetensors.serialize(params.ordered + optimizer.stateTensors(shapes: params), metadata: metadata), to: run.last)
    }

    /// The seed of global step `step`'s draws.
    static func stepSeed(_ seed: UInt64, _ step: Int) -> UInt64 {
        var x = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1)
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    static func format(_ v: Double) -> String { String(format: v < 0.001 && v > 0 ? "%.2e" : "%.4f", v) }
}

/// The position of a run, saved in the checkpoint's metadata (doubles as exact bit patterns).
struct TrainingState {
    var epoch = 0, iteration = 0, step = 0, optimizerStep = 0
    var lossSum = 0.0, lossCount = 0
    var lastRate = 0.0
    var bestDice: Double?, bestEpoch: Int?

    init() {}

    init(metadata m: [String: String]) {
        func double(_ key: String) -> Double? { m[key].flatMap { UInt64($0, radix: 16) }.map { Double(bitPattern: $0) } }
        epoch = Int(m["epoch"] ?? "") ?? 0
        iteration = Int(m["iteration"] ?? "") ?? 0
        step = Int(m["step"] ?? "") ?? 0
        optimizerStep = Int(m["optimizer_step"] ?? "") ?? step
        lossSum = double("loss_sum") ?? 0
        lossCount = Int(m["loss_count"] ?? "") ?? 0
        lastRate = double("last_rate") ?? 0
        bestDice = double("best_dice")
        bestEpoch = m["best_epoch"].flatMap { Int($0) }
    }

    var metadata: [String: String] {
        var m = ["epoch": String(epoch), "iteration": String(iteration), "step": String(step), "loss_sum": String(lossSum.bitPattern, radix: 16),
                 "loss_count": String(lossCount), "last_rate": String(lastRate.bitPattern, radix: 16)]
        if let bestDice { m["best_dice"] = String(bestDice.bitPattern, radix: 16) }
        if let bestEpoch { m["best_epoch"] = String(bestEpoch) }
        return m
    }
}

/// The files of a run folder.
struct RunFolder {
    let path: String
    var checkpoints: String { path + "/checkpoints" }
    var last: String { checkpoints + "/last.safetensors" }
    var best: String { checkpoints + "/best.safetensors" }
    var log: String { path + "/log.jsonl" }
    var split: String { path + "/split.json" }
    var testMetrics: String { path + "/test-metrics.csv" }
    var testSummary: String { path + "/test-metrics-summary.csv" }

    /// The files a run writes at its top level (a folder holding only these is a run's own).
    static let runFiles: Set<String> = ["checkpoints", "split.json", "log.jsonl", "report.html", "inference.json", "pipeline.json",
                                        "training.resolved.json", ".staging", "test-metrics.csv", "test-metrics-summary.csv"]

    /// A new run needs a missing or empty folder. A resumed one needs its last checkpoint, or a run that was
    /// stopped before its first checkpoint (a folder holding only a run's files), which then starts afresh.
    func prepare(resume: Bool) throws {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        let onlyRunFiles = entries.allSatisfy { Self.runFiles.contains($0) || AtomicFile.isLeftover($0) }
        if resume {
            guard fm.fileExists(atPath: last) || (!entries.isEmpty && onlyRunFiles && entries.contains("split.json")) else {
                throw TrainingError.output("\(path): no checkpoint to resume from (\(last) is missing)")
            }
        } else if !entries.isEmpty {
            let what = fm.fileExists(atPath: last) ? "holds a training run; continue it with --resume or choose a new folder" : "is not empty; choose a new or empty folder (nothing in it is touched)"
            throw TrainingError.output("\(path) \(what)")
        }
        do {
            try fm.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.output("\(path): cannot create the run folder: \(FileSystemMessage.describe(error))")
        }
    }
}
