import ArgumentParser
import VoxelPipeline
import VoxelSupport

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect model packages (a network with its weights, preprocessing, labels and model card).",
        subcommands: [ModelInfoCommand.self]
    )
}

struct ModelInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Check a model package and print what it is: network, expected input, stages, labels, model card.",
        discussion: """
        PATH is a model package folder (holding model.json) or its model.json. The whole package is checked as \
        `segment`/`classify` would load it: the format, every stage, the label table and the weights against \
        the network description.

        \(ExitCodes.help)
        """
    )

    @Argument(help: "The model package folder (or its model.json).")
    var path: String

    @Flag(help: "Print the description as JSON.")
    var json = false

    func run() throws {
        do {
            // The registry segment/classify build package stages with: built-in stages only.
            let package = try ModelPackage.load(path)
            try ModelPackage.checkWeights(package)
            print(json ? try package.descriptionJSON().serialized(pretty: true) : try package.descriptionText())
        } catch let e as PipelineValidationError {
            printError("voxelflow: error: \(e)")
            throw ExitCode(ExitCodes.badInput)
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
