import VoxelCore
/// The stage types that ship with VoxelPipeline. Plugins add theirs to the same registry.
extension StageRegistry {
    /// A registry holding every built-in stage type (spatial, intensity, label, model and writer stages).
    public static var builtIn: StageRegistry {
        var r = StageRegistry()
        for d in SpatialStages.all + IntensityStages.all + LabelStages.all + ModelStages.all + AugmentationStages.all + [NNUNetStage.definition, CombineLabelsStage.definition, WriteNIfTIStage.definition, WriteDICOMSegStage.definition, WriteRTStructStage.definition, WriteDICOMSRStage.definition, WriteOverlaySeriesStage.definition, DeidentifyStage.definition, WriteReportStage.definition, WriteHTMLReportStage.definition, EvaluateStage.definition] {
            r.register(d)
        }
        return r
    }
}
