import VoxelCore
import VoxelIO

/// `combine-labels`: merges label maps on one grid into one, each source's values first mapped to the
/// combined numbering; where sources overlap, the later one wins (its non-zero voxels are written over the
/// earlier ones). This is how TotalSegmentator joins the parts of its "total" model, and how separate
/// organ models become one map.
struct CombineLabelsStage: Stage {
    static let definition = StageDefinition(
        type: "combine-labels", category: .labels,
        summary: "Merge label maps on one grid into one: each source's labels mapped to the combined numbering, later sources written over earlier ones where they are non-zero.",
        parameters: [
            ParameterSpec("sources", .array(of: .reference([.labels]), count: 1...64), doc: "the label maps to merge, in order (later ones win where they overlap)"),
            ParameterSpec("mappings", .array(of: .labelMapping, count: 1...64), optional: true,
                          doc: "one mapping per source, source label → combined label (e.g. {\"1\": 5, \"2\": 7}); a source's labels missing from its mapping are dropped. Without mappings, labels keep their values"),
            ParameterSpec("labelTable", .labelTable, optional: true, doc: "names, colours and codes of the combined labels, used by the writers and reports that take this stage's labels"),
        ],
        produces: .kind(.labels),
        make: { c in
            guard let sources = c.parameters.strings("sources") else { throw CaseError.invalidParameters(stage: c.id, reason: "\"sources\" must list label maps") }
            var mappings: [[Int: Int]]?
            if case .array(let items)? = c.parameters.values["mappings"] {
                guard items.count == sources.count else {
                    throw CaseError.invalidParameters(stage: c.id, reason: "\(items.count) mappings for \(sources.count) sources; give one per source")
                }
                mappings = try items.enumerated().map { i, item in
                    guard case .object(let members) = item else { throw CaseError.invalidParameters(stage: c.id, reason: "mapping \(i) is not an object") }
                    var m: [Int: Int] = [:]
                    for (key, value) in members {
                        guard let from = Int(key), let to = value.doubleValue, to == to.rounded(), to >= 0, to <= 65_535 else {
                            throw CaseError.invalidParameters(stage: c.id, reason: "mapping \(i): \"\(key)\" must map a label number to a label number 0…65535")
                        }
                        m[from] = Int(to)
                    }
                    return m
                }
            }
            return CombineLabelsStage(id: c.id, sources: sources, mappings: mappings, table: try c.labelTable())
        })

    let id: String
    let sources: [String]
    let mappings: [[Int: Int]]?
    let table: LabelTable?

    func run(_ context: inout CaseContext) throws -> StageValue? {
        if let table { context.labelTables[id] = table }
        var combined: [UInt16] = []
        var first: LabelMap?
        for (i, source) in sources.enumerated() {
            let labels = try context.labels(source)
            if let first {
                guard labels.geometry == first.geometry else {
                    throw CaseError.gridMismatch("\"\(source)\" is on another grid than \"\(sources[0])\"; put it on the same grid first (resample-to)")
                }
            } else {
                first = labels
                combined = [UInt16](repeating: 0, count: labels.volume.voxels.count)
            }
            // A lookup table indexed by the source's label value (0: keep what is there).
            let values = labels.labelsPresent()
            var lut = [UInt16](repeating: 0, count: (values.max() ?? 0) + 1)
            for v in values where v > 0 {
                if let mapping = mappings?[i] { lut[v] = UInt16(clamping: mapping[v] ?? 0) } else { lut[v] = UInt16(clamping: v) }
            }
            let voxels = labels.volume.voxels
            for j in 0..<combined.count {
                let v = Int(voxels.value(at: j))
                if v > 0, v < lut.count, lut[v] != 0 { combined[j] = lut[v] }
            }
        }
        guard let first else { return nil }
        let wide = (combined.max() ?? 0) > 255 || (table?.labels.contains { $0.value > 255 } ?? false)
        var metadata = first.volume.metadata
        metadata.intensityUnit = nil
        return .labels(try LabelMap(Volume(geometry: first.geometry, voxels: wide ? .uint16(combined) : .uint8(combined.map { UInt8($0) }), metadata: metadata)))
    }
}
