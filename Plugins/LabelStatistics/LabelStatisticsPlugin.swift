import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelTransforms
import VoxelSupport

/// The label statistics plugin: per label, voxel count, volume in mL, bounding box, centroid in world mm
/// and the statistics of the image under the label, as a section of the case report.
public enum LabelStatisticsPlugin {
    /// Adds the `label-statistics` stage type.
    public static func register(in registry: inout StageRegistry) {
        registry.register(definition)
    }

    static let definition = StageDefinition(
        type: "label-statistics", category: .analysis,
        summary: "Per label: voxels, volume (mL), bounding box, centroid (world mm) and image statistics under the label (HU for CT, SUV for PET).",
        parameters: [
            ParameterSpec("labels", .reference([.labels]), doc: "the label map to measure"),
            ParameterSpec("image", .reference([.image]), optional: true, doc: "image whose values are summarised under each label (physical units)"),
            ParameterSpec("percentiles", .array(of: .number(0...100), count: 0...32), default: .array([5, 25, 50, 75, 95].map { .int($0) }),
                          doc: "percentiles of the image values per label (linear interpolation, as numpy)"),
            ParameterSpec("names", .object, optional: true, doc: "label number → name, e.g. {\"1\": \"liver\"}, copied into the report"),
            ParameterSpec("labelTable", .labelTable, optional: true,
                          doc: "label table (a JSON file as for export-seg, or inline) whose names are copied into the report; \"names\" overrides it per label; without either, the names of the table a segment stage attached to the labels"),
            ParameterSpec("resampleLabels", .boolean, default: .bool(false),
                          doc: "when the label map is on another grid than the image, resample it nearest-neighbour onto the image grid (otherwise that is an error)"),
        ],
        produces: .kind(.report),
        make: { c in
            var names: [Int: String] = [:]
            if let table = try c.labelTable() {
                for label in table.labels { names[label.value] = label.name }
            }
            if case .object(let members)? = c.parameters.values["names"] {
                for (k, v) in members {
                    guard let label = Int(k), let name = v.stringValue else { throw CaseError.invalidParameters(stage: c.id, reason: "names: keys must be label numbers and values strings") }
                    names[label] = name
                }
            }
            return LabelStatisticsStage(labels: try c.string("labels"), image: c.parameters.string("image"),
                                        percentiles: try c.doubles("percentiles"), names: names,
                                        resampleLabels: try c.bool("resampleLabels"))
        })
}

struct LabelStatisticsStage: Stage {
    let labels: String
    let image: String?
    let percentiles: [Double]
    let names: [Int: String]
    let resampleLabels: Bool

    func run(_ context: inout CaseContext) throws -> StageValue? {
        var labelMap = try context.labels(labels)
        let volume = try image.map { try context.image($0) }
        if let volume, !Self.sameGrid(volume.geometry, labelMap.geometry) {
            guard resampleLabels else {
                throw CaseError.gridMismatch("label map \"\(labels)\" (\(Self.describe(labelMap.geometry))) is not on the grid of image \"\(image ?? "")\" (\(Self.describe(volume.geometry))); set \"resampleLabels\": true to resample it")
            }
            labelMap = try LabelMap(ResampleToGrid(target: volume.geometry, interpolation: .nearest).apply(labelMap.volume))
        }
        let stats = LabelStatistics.compute(labelMap, image: volume, percentiles: percentiles)
        var members: [(String, JSON)] = []
        if let volume {
            members.append(("image", .string(image ?? "")))
            if let unit = volume.metadata.intensityUnit ?? (volume.metadata.modality == "CT" ? "HU" : nil) {
                members.append(("unit", .string(unit)))
            }
        }
        members.append(("voxelVolumeML", .number(LabelStatistics.round(labelMap.geometry.spacing.x * labelMap.geometry.spacing.y * labelMap.geometry.spacing.z / 1000))))
        // Names: this stage's, else the table the label map's producer attached (a segment stage's model table).
        let carried = context.labelTables[labels]
        members.append(("labels", .array(stats.map { s in s.json(name: names[s.label] ?? carried?[s.label]?.name) })))
        return .report(.object(members))
    }

    static func sameGrid(_ a: Geometry, _ b: Geometry) -> Bool {
        guard a.size == b.size else { return false }
        let ra = a.affine.rows, rb = b.affine.rows
        return zip(ra.joined(), rb.joined()).allSatisfy { abs($0 - $1) <= 1e-4 }
    }

    static func describe(_ g: Geometry) -> String {
        "\(g.size.x)×\(g.size.y)×\(g.size.z), spacing \(g.spacing.x)×\(g.spacing.y)×\(g.spacing.z) mm"
    }
}
