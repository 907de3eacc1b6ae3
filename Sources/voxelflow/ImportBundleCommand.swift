import ArgumentParser
import VoxelPipeline

struct ImportBundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-bundle",
        abstract: "Turn a MONAI bundle folder into a VoxelFlow model package.",
        discussion: """
        Reads BUNDLE/configs/metadata.json, the inference configuration (default configs/inference.json) and \
        the checkpoint (default models/model.pt, or models/model.ts — TorchScript, read for its weights only — when \
        the bundle has no model.pt) and writes the package folder OUTPUT (which must not exist):
        model.json, weights.safetensors, labels.json (from the output channel names) and README.md (the \
        bundle's docs/README.md). The configuration is read as data: `network_def`, `preprocessing`, `inferer` \
        and `postprocessing` are translated; MONAI's runtime parts (device, datalist, handlers, evaluator, run) \
        are left alone. A `$` expression or an unknown component inside the translated parts is refused with its \
        JSON path; nothing is ever evaluated. The checkpoint is read without executing anything. The package is \
        checked by loading it before it is moved into place; `voxelflow model info OUTPUT` prints it.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The MONAI bundle folder.")
    var bundle: String

    @Option(name: .shortAndLong, help: "The model package folder to create.")
    var output: String

    @Option(help: "The inference configuration inside the bundle.")
    var config = "configs/inference.json"

    @Option(help: "The checkpoint inside the bundle: a PyTorch state dict (torch.save) or a TorchScript archive (torch.jit.save); default models/model.pt, else models/model.ts.")
    var weights: String?

    func run() throws {
        do {
            let result = try MonaiBundleImport.run(bundle: bundle, output: output, config: config, weights: weights)
            print("wrote the model package \(result.package)")
            for note in result.notes { print("  note: \(note)") }
        } catch let e as BundleImportError {
            printError("voxelflow: error: \(e)")
            throw ExitCode(ExitCodes.badInput)
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
