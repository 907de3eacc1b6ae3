import ExternalCommandPlugin
import LabelStatisticsPlugin
import VoxelPipeline

/// The stage types this build of the tool offers: the built-in stages and the plugins in `Plugins/`.
enum StageCatalog {
    static var registry: StageRegistry {
        var r = StageRegistry.builtIn
        LabelStatisticsPlugin.register(in: &r)
        ExternalCommandPlugin.register(in: &r)
        return r
    }
}
