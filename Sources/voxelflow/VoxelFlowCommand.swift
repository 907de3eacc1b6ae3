import ArgumentParser

@main
struct VoxelFlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voxelflow",
        abstract: "Turn archives of medical scans into segmentations and reports.",
        discussion: ExitCodes.help,
        version: VoxelFlowVersion.string,
        subcommands: [InfoCommand.self, ScanCommand.self, ConvertCommand.self, ExportSegCommand.self, ExportRTStructCommand.self, ExportSRCommand.self, ExportOverlayCommand.self, NNUNetPredictCommand.self, ValidateCommand.self, StagesCommand.self, ModelCommand.self, ImportBundleCommand.self, RunCommand.self, PullCommand.self, PushCommand.self, ListenCommand.self, SubmitCommand.self, StatusCommand.self, ReportCommand.self, TrainCommand.self, EvaluateCommand.self, EvaluateClassificationCommand.self, DeidentifyCommand.self]
    )
}

/// The tool's version, reported by `--version` and in provenance records.
enum VoxelFlowVersion {
    static let string = "0.1.0"
}
