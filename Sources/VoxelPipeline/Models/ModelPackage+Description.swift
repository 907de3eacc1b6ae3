import Foundation
import VoxelIO
import VoxelNN
import VoxelSupport

extension ModelPackage {
    /// Everything `voxelflow model info --json` prints: identity, network and parameter count, the input it
    /// expects, its stages, inference settings, labels or classes and the model card.
    /// - Throws: `NNError` when the weights file cannot be read.
    public func descriptionJSON() throws -> JSON {
        let weights = try Safetensors(path: weightsPath)
        let parameters = weights.entries.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        func stages(_ list: [StageSpec]) -> JSON {
            .array(list.map { s in
                .object([("id", .string(s.id)), ("type", .string(s.type))] + s.parameters.values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            })
        }
        var input: [(String, JSON)] = [("channels", .int(self.input.channels))]
        if !self.input.modalities.isEmpty { input.append(("modalities", .array(self.input.modalities.map { .string($0) }))) }
        if let u = self.input.intensityUnit { input.append(("intensityUnit", .string(u))) }
        if let o = self.input.orientation { input.append(("orientation", .string(o))) }
        if let s = self.input.spacing { input.append(("spacing", .numbers(s))) }
        if let d = self.input.description { input.append(("description", .string(d))) }
        var members: [(String, JSON)] = [
            ("name", .string(name)), ("version", .string(version)), ("task", .string(task.rawValue)), ("summary", .string(summary)),
            ("path", .string(directory)), ("sha256", .string(sha256)),
            ("network", network), ("parameters", .int(parameters)),
            ("weights", .object([("file", .string((weightsPath as NSString).lastPathComponent)), ("tensors", .int(weights.entries.count))])),
            ("input", .object(input)),
            ("preprocessing", stages(preprocessing)),
        ]
        if task == .segmentation {
            members.append(("inference", .object(inference.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })))
            members.append(("postprocessing", stages(postprocessing)))
            if let labelTable {
                members.append(("labels", .array(labelTable.labels.map { .object([("value", .int($0.value)), ("name", .string($0.name))]) })))
            }
        } else if let classNames {
            members.append(("classNames", .array(classNames.map { .string($0) })))
        }
        members.append(("card", card))
        return .object(members)
    }

    /// The package as `voxelflow model info` prints it: a few lines a person reads before using a model.
    /// - Throws: `NNError` when the weights file cannot be read.
    public func descriptionText() throws -> String {
        let json = try descriptionJSON()
        var lines = ["\(name) \(version) — \(task.rawValue) model package (\(directory))"]
        if !summary.isEmpty { lines.append("  \(summary)") }
        let type = network["type"]?.stringValue ?? "?"
        lines.append("  network: \(type), \(json["parameters"]?.doubleValue.map { Int($0) } ?? 0) parameters, weights \((weightsPath as NSString).lastPathComponent)")
        var expects = ["\(input.channels) channel(s)"]
        if !input.modalities.isEmpty { expects.insert(input.modalities.joined(separator: "/"), at: 0) }
        if let u = input.intensityUnit { expects.append("intensities in \(u)") }
        lines.append("  input: " + expects.joined(separator: ", ") + (input.description.map { "; \($0)" } ?? ""))
        func list(_ title: String, _ specs: [StageSpec]) {
            lines.append("  \(title): " + (specs.isEmpty ? "none" : specs.map { "\($0.id) (\($0.type))" }.joined(separator: " → ")))
        }
        list("preprocessing", preprocessing)
        if task == .segmentation {
            let settings = inference.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.serialized(pretty: false))" }
            lines.append("  inference: " + (settings.isEmpty ? "defaults" : settings.joined(separator: ", ")))
            list("postprocessing", postprocessing)
            if let labelTable {
                let names = labelTable.labels.map { "\($0.value) \($0.name)" }
                lines.append("  labels (\(names.count)): " + names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", …" : ""))
            }
        } else if let classNames {
            lines.append("  classes: " + classNames.joined(separator: ", "))
        }
        if case .object(let fields) = card, !fields.isEmpty {
            lines.append("  model card:")
            for (key, value) in fields {
                let text = value.stringValue ?? value.serialized(pretty: false)
                lines.append("    \(key): \(text)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension ModelPackage {
    /// Builds the package's network and loads its weights strictly (every tensor present with its shape,
    /// nothing left over), as `segment`/`classify` will.
    /// - Throws: `NNError` naming the weights file and the first problem.
    public static func checkWeights(_ package: ModelPackage) throws {
        _ = try Networks.load(Safetensors(path: package.weightsPath), description: package.network)
    }
}
