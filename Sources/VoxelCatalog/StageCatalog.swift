import ExternalCommandPlugin
import PACSPlugin
import LabelStatisticsPlugin
import VoxelPipeline

/// The stage types this build of VoxelFlow offers: the built-in stages and the plugins in `Plugins/`.
///
/// The command line and the tests use this one list, so a plugin added here is offered, documented
/// (`voxelflow stages`) and tested everywhere.
public enum StageCatalog {
    /// A registry holding every built-in stage and every plugin's stages.
    public static var registry: StageRegistry {
        var r = StageRegistry.builtIn
        LabelStatisticsPlugin.register(in: &r)
        ExternalCommandPlugin.register(in: &r)
        PACSPlugin.register(in: &r)
        return r
    }
}
