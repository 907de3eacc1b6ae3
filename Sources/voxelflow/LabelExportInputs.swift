import VoxelCore
import VoxelIO
import VoxelTransforms

/// What `export-seg`, `export-rtstruct` and `export-overlay` read before writing: the label table, the
/// series (`--reference`, `--series`) and the NIfTI volume, put on the series' grid when asked.
struct LabelExportInputs {
    let table: LabelTable?
    let stack: DICOMStack
    /// The volume read from the NIfTI file, on the series' grid when `--resample` asked for it (nearest
    /// neighbour, or linear for probabilities); otherwise as read (writers refuse another grid, naming both).
    let volume: Volume

    /// Reads the inputs; `outputs` are checked against them first (never written over an input; an existing
    /// output only with `force`).
    init(labels: String, labelTable: String?, reference: String, series: String?, resample: Bool,
         interpolation: Interpolation = .nearest, outputs: [String]?, force: Bool) throws {
        table = try labelTable.map { try LabelTable.read($0) }
        stack = try DICOMSeriesChoice.load(reference, selector: series)
        if let outputs, let first = outputs.first {
            try OutputGuard.check(outputs, name: first, inputs: NIfTI.datasetFiles(labels) + stack.files, force: force)
        }
        var v = try NIfTI.read(labels).volume
        let grid = stack.geometry()
        if resample && (v.geometry.size != grid.size || v.geometry.affine.maxAbsDifference(to: grid.affine) >= 1e-3) {
            v = try ResampleToGrid(target: grid, interpolation: interpolation).apply(v)
        }
        volume = v
    }
}
