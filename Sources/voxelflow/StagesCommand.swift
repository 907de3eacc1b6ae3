import VoxelCore
import ArgumentParser
import VoxelCatalog
import VoxelPipeline
import VoxelSupport

struct StagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages",
        abstract: "List every stage type a pipeline can use, with its parameters.",
        discussion: """
        Without options: a readable list (type, summary, parameters with types, defaults and docs). \
        --schema prints the JSON Schema of pipeline files (committed as pipelines/schema.json); \
        --markdown prints the stage reference (committed as docs/stages.md). Both are generated from the \
        same registry as the validator, so they cannot drift from the code.
        """
    )

    @Flag(name: .long, help: "Print the JSON Schema of pipeline files.")
    var schema = false

    @Flag(name: .long, help: "Print the stage reference as Markdown.")
    var markdown = false

    func validate() throws {
        if schema && markdown { throw ValidationError("choose one of --schema and --markdown") }
    }

    func run() throws {
        let registry = StageCatalog.registry
        if schema {
            print(PipelineSchema.generate(registry).serialized())
            return
        }
        if markdown {
            print(PipelineSchema.markdown(registry), terminator: "")
            return
        }
        for d in registry.sorted {
            print("\(d.type)  [\(d.category.rawValue)]")
            print("    \(d.summary)")
            for p in d.parameters {
                let def = p.defaultValue.map { " = \($0.serialized(pretty: false))" } ?? (p.optional ? " (optional)" : " (required)")
                print("    \(p.name): \(p.type.summary)\(def)")
                print("        \(p.doc)")
            }
            print()
        }
    }
}
