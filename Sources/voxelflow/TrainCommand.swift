import ArgumentParser
import Foundation
import VoxelCatalog
import VoxelPipeline
import VoxelSupport

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a segmentation network from a training pipeline.",
        discussion: """
        The pipeline is an ordinary pipeline (inputs and preprocessing stages) with a "training" section \
        naming the image and label values, the split, the network, patch size, batch, loss, optimiser, \
        schedule, epochs and augmentations (docs/pipelines.md, "Training pipelines"). It is checked first, \
        as `validate` does.

        Every case of the split is preprocessed once by the pipeline's stages and kept in memory; a case that \
        fails is left out with its reason (in the log and report.html), the others train. Each step draws a \
        batch of patches, augments it, and updates the weights; every epoch ends with sliding-window \
        validation (mean Dice of the foreground classes) when the split has validation cases.

        Classifiers (monai-resnet, with "classes" and a "caseClasses" table in the archive) train on whole \
        preprocessed volumes, every case of one size, drawing the classes in turn; validation is the accuracy \
        (the "score" adds 0.001 × the mean probability of the true class, to break ties). Their test cases give \
        RUN/test-predictions.csv, test-classes.csv, test-confusion-matrix.csv and test-classification.json.

        Run folder (must be new or empty; with --resume, the folder of an earlier run):
          RUN/checkpoints/last.safetensors   weights, optimiser state and position (for --resume)
          RUN/checkpoints/best.safetensors   the weights of the best validation Dice (MONAI state_dict names;
                                             loadable by `segment` and by PyTorch through safetensors)
          RUN/split.json                     the training, validation and test cases
          RUN/log.jsonl                      one line per epoch: loss, learning rate, validation Dice, seconds
          RUN/report.html                    loss and Dice curves, the epochs, test results, excluded cases
          RUN/test-metrics.csv               when the split has test cases: the best weights measured on
                                             them (Dice, IoU, HD95, ASSD, surface Dice… per class, on the
                                             training grid), and test-metrics-summary.csv over the cases
          RUN/inference.json                 a pipeline that applies best.safetensors with the same
                                             preprocessing (`voxelflow run RUN/inference.json ...`)
          RUN/pipeline.json, RUN/training.resolved.json   the pipeline as given, the training settings in full
        Every file is written atomically.

        Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes the checkpoint and exits; --resume \
        continues from it (a run stopped before its first checkpoint starts afresh). Batches depend only on \
        the seed and the step number, so a stopped and resumed run ends with the same weights as one that ran \
        through (same machine and --jobs).

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The training pipeline file (JSON).")
    var pipeline: String

    @Option(name: .shortAndLong, help: "The archive folder holding the scans and their labels.")
    var input: String

    @Option(name: .shortAndLong, help: "The run folder (created when missing; must be empty unless --resume).")
    var output: String

    @Flag(name: .long, help: "Continue the run in the output folder from its last checkpoint.")
    var resume = false

    @Option(name: .shortAndLong, help: "Cores the computation uses (default: all).")
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let spec = try PipelineLoading.load(pipeline)
        var options = TrainOptions(archive: input, output: output)
        options.resume = resume
        options.jobs = jobs
        options.pipelineBytes = FileManager.default.contents(atPath: pipeline).map { [UInt8]($0) } ?? []
        options.toolVersion = VoxelFlowVersion.string
        let control = RunControl()
        let signals = InterruptHandler(control: control)
        let summary: TrainingSummary
        do {
            let trainer = try Trainer(spec: spec, file: pipeline)
            summary = try trainer.run(options, control: control) { line in printError(line) }
        } catch let e as TrainingError {
            printError("voxelflow: error: \(e)")
            if case .output = e { throw ExitCode(ExitCodes.cannotWrite) }
            throw ExitCode(ExitCodes.badInput)
        } catch {
            throw ExitCodes.fail(error)
        }
        signals.stop()
        let measure = summary.testAccuracy != nil || summary.isClassifier ? "score" : "Dice"
        let best = summary.bestDice.map { String(format: "best validation \(measure) %.4f at epoch %d", $0, summary.bestEpoch ?? 0) } ?? "no validation cases"
        var test = summary.testMeanDice.map { String(format: "; test Dice %.4f on %d case(s)", $0, summary.testCases) } ?? ""
        if let accuracy = summary.testAccuracy { test = String(format: "; test accuracy %.4f on %d case(s)", accuracy, summary.testCases) }
        print("\(summary.epochsDone) epoch(s), \(summary.stepsDone) step(s); \(best)\(test); excluded cases: \(summary.excluded.count)")
        print("run folder: \(output)")
        if summary.interrupted {
            let resumeCommand = ["voxelflow", "train", pipeline, "--input", input, "--output", output, "--resume"]
            printError("voxelflow: interrupted; continue with:\n  \(resumeCommand.map(shellQuoted).joined(separator: " "))")
            throw ExitCode(ExitCodes.interrupted)
        }
    }
}
