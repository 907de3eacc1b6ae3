import Foundation
import VoxelSupport

/// What an nnU-Net v2 model folder's `plans.json` and `dataset.json` say about one configuration:
/// the axis transposition, the normalisation per channel, the target spacing and patch size, the
/// resampling orders and the network. Axis order is nnU-Net's: (axis 0, 1, 2) of the array SimpleITK gives,
/// i.e. (z, y, x) of a volume, after `transposeForward`.
public struct NNUNetPlans: Sendable {
    /// Normalisation of one input channel (`normalization_schemes`).
    public enum Normalization: Sendable, Equatable {
        /// Clip to the stored foreground percentiles, subtract the mean, divide by the std.
        case ct(mean: Double, std: Double, lower: Double, upper: Double)
        /// Subtract the image's mean, divide by its std; over the non-zero region only when `useMask`.
        case zScore(useMask: Bool)
        /// Shift and scale to [0, 1].
        case rescaleTo01
        /// Divide by 255.
        case rgbTo01
        /// Leave as is.
        case none
    }

    /// Spline orders of one of the resampling functions.
    public struct Resampling: Sendable, Equatable {
        public var order: Int
        public var orderZ: Int
        /// nil: decide by spacing (nnU-Net's default).
        public var forceSeparateZ: Bool?
    }

    /// The configuration's name (`3d_fullres`, `2d`, `3d_lowres`, …).
    public let configuration: String
    public let transposeForward: [Int]
    public let transposeBackward: [Int]
    /// Patch size: three entries for 3-D, two (in-plane) for 2-D configurations.
    public let patchSize: [Int]
    /// Target spacing, mm, in transposed order (two entries for 2-D).
    public let spacing: [Double]
    public let normalization: [Normalization]
    public let resamplingData: Resampling
    public let resamplingProbabilities: Resampling
    /// How a previous stage's segmentation is resampled (cascades).
    public let resamplingSegmentation: Resampling
    /// `{"network_class_name": …, "arch_kwargs": {…}}`.
    public let architecture: JSON
    /// The configuration whose prediction this one takes as extra input (cascade), if any.
    public let previousStage: String?
    /// The configurations the plan defines.
    public let configurations: [String]

    /// True for a 2-D configuration.
    public var is2D: Bool { patchSize.count == 2 }

    /// Reads `configuration` from a plans file (resolving `inherits_from`).
    /// - Throws: `NNError.invalidInput` naming the file and the missing or malformed key.
    public init(path: String, configuration: String) throws {
        let json = try Self.readJSON(path)
        func fail(_ why: String) -> NNError { .invalidInput("\(path): \(why)") }
        guard case .object(let configs)? = json["configurations"] else { throw fail("has no configurations") }
        configurations = configs.map(\.0)
        guard var config = json["configurations"]?[configuration] else {
            throw fail("has no configuration \"\(configuration)\" (it has \(configurations.joined(separator: ", ")))")
        }
        // `inherits_from`: the parent's keys, overridden by the child's.
        var seen: Set<String> = [configuration]
        while let parent = config["inherits_from"]?.stringValue {
            guard !seen.contains(parent), case .object(let parentMembers)? = json["configurations"]?[parent], case .object(let own) = config else {
                throw fail("configuration \(configuration) inherits from \(parent), which is missing or circular")
            }
            seen.insert(parent)
            var merged = parentMembers.filter { key, _ in key != "inherits_from" }
            for (k, v) in own where k != "inherits_from" {
                if let i = merged.firstIndex(where: { $0.0 == k }) { merged[i].1 = v } else { merged.append((k, v)) }
            }
            if let grand = parentMembers.first(where: { $0.0 == "inherits_from" }) { merged.append(grand) }
            config = .object(merged)
        }
        self.configuration = configuration
        func ints(_ j: JSON?, _ key: String) throws -> [Int] {
            guard case .array(let items)? = j else { throw fail("\(key) is missing or not an array") }
            return try items.map { item in
                guard let d = item.doubleValue, d == d.rounded(), d >= 0, d < 1e6 else { throw fail("\(key) must hold whole numbers") }
                return Int(d)
            }
        }
        func doubles(_ j: JSON?, _ key: String) throws -> [Double] {
            guard case .array(let items)? = j else { throw fail("\(key) is missing or not an array") }
            return try items.map { item in
                guard let d = item.doubleValue, d > 0, d.isFinite else { throw fail("\(key) must hold positive numbers") }
                return d
            }
        }
        transposeForward = try ints(json["transpose_forward"], "transpose_forward")
        transposeBackward = try ints(json["transpose_backward"], "transpose_backward")
        guard transposeForward.sorted() == [0, 1, 2], transposeBackward.sorted() == [0, 1, 2] else { throw fail("transpose_forward/backward must be permutations of 0, 1, 2") }
        patchSize = try ints(config["patch_size"], "patch_size")
        spacing = try doubles(config["spacing"], "spacing")
        guard [2, 3].contains(patchSize.count), patchSize.count == spacing.count, patchSize.allSatisfy({ $0 > 0 }) else {
            throw fail("configuration \(configuration): patch_size and spacing must both have 2 or 3 entries")
        }
        guard case .array(let schemes)? = config["normalization_schemes"] else { throw fail("normalization_schemes is missing") }
        var useMask: [Bool] = []
        if case .array(let flags)? = config["use_mask_for_norm"] {
            useMask = flags.map { if case .bool(let b) = $0 { return b } else { return false } }
        }
        normalization = try schemes.enumerated().map { c, scheme in
            switch scheme.stringValue {
            case "CTNormalization"?:
                guard let p = json["foreground_intensity_properties_per_channel"]?[String(c)],
                      let mean = p["mean"]?.doubleValue, let std = p["std"]?.doubleValue,
                      let lower = p["percentile_00_5"]?.doubleValue, let upper = p["percentile_99_5"]?.doubleValue else {
                    throw fail("CTNormalization of channel \(c) needs foreground_intensity_properties_per_channel.\(c) (mean, std, percentiles)")
                }
                return .ct(mean: mean, std: std, lower: lower, upper: upper)
            case "ZScoreNormalization"?: return .zScore(useMask: c < useMask.count && useMask[c])
            case "RescaleTo01Normalization"?: return .rescaleTo01
            case "RGBTo01Normalization"?: return .rgbTo01
            case "NoNormalization"?: return .none
            default: throw fail("normalization scheme \(scheme.stringValue ?? "?") of channel \(c) is not supported")
            }
        }
        func resampling(_ fn: String, _ kwargs: String, _ defaultOrder: Int) throws -> Resampling {
            if let name = config[fn]?.stringValue, name != "resample_data_or_seg_to_shape" {
                throw fail("\(fn) \(name) is not supported (resample_data_or_seg_to_shape)")
            }
            let k = config[kwargs]
            var force: Bool?
            if case .bool(let b)? = k?["force_separate_z"] { force = b }
            return Resampling(order: Int(k?["order"]?.doubleValue ?? Double(defaultOrder)), orderZ: Int(k?["order_z"]?.doubleValue ?? 0), forceSeparateZ: force)
        }
        resamplingData = try resampling("resampling_fn_data", "resampling_fn_data_kwargs", 3)
        resamplingProbabilities = try resampling("resampling_fn_probabilities", "resampling_fn_probabilities_kwargs", 1)
        resamplingSegmentation = try resampling("resampling_fn_seg", "resampling_fn_seg_kwargs", 1)
        guard let architecture = config["architecture"] else {
            throw fail("configuration \(configuration) has no architecture (plans from nnU-Net before v2.4 are not supported)")
        }
        self.architecture = architecture
        previousStage = config["previous_stage"]?.stringValue
    }

    static func readJSON(_ path: String) throws -> JSON {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NNError.invalidInput("\(path): \(FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")")
        }
        do {
            return try JSONParser.parse(bytes: [UInt8](data)).json
        } catch {
            throw NNError.invalidInput("\(path): not valid JSON: \(error)")
        }
    }
}

/// What an nnU-Net model's `dataset.json` says: the input channels, the labels (or regions) and the file
/// ending of its images.
public struct NNUNetDataset: Sendable {
    /// One label or region: its name and the label values it covers (one value for a plain label).
    public struct Label: Sendable, Equatable {
        public var name: String
        public var values: [Int]
    }

    /// Channel names in channel order (`CT`, `T2`, …).
    public let channelNames: [String]
    /// Labels in file order, background included.
    public let labels: [Label]
    /// Region-based models: the label written for each region, in output-channel order.
    public let regionsClassOrder: [Int]?
    /// The image file ending, e.g. `.nii.gz`.
    public let fileEnding: String

    /// True when the model predicts overlapping regions (sigmoid outputs) rather than classes (softmax).
    public var hasRegions: Bool { labels.contains { $0.values.count > 1 } }

    /// The network's output channels: one per class, or one per foreground region.
    public var outputChannels: Int { hasRegions ? labels.filter { $0.values != [0] }.count : labels.count }

    /// Reads a `dataset.json`.
    /// - Throws: `NNError.invalidInput` naming the file and the problem.
    public init(path: String) throws {
        let json = try NNUNetPlans.readJSON(path)
        func fail(_ why: String) -> NNError { .invalidInput("\(path): \(why)") }
        guard case .object(let channels)? = json["channel_names"] ?? json["modality"] else { throw fail("has no channel_names") }
        channelNames = try channels.sorted { (Int($0.0) ?? 0) < (Int($1.0) ?? 0) }.enumerated().map { i, entry in
            guard Int(entry.0) == i, let name = entry.1.stringValue else { throw fail("channel_names must be numbered 0, 1, … with string names") }
            return name
        }
        guard case .object(let labelMembers)? = json["labels"], !labelMembers.isEmpty else { throw fail("has no labels") }
        labels = try labelMembers.map { name, value in
            if let d = value.doubleValue, d == d.rounded(), d >= 0 { return Label(name: name, values: [Int(d)]) }
            if case .array(let items) = value {
                let values = items.compactMap { $0.doubleValue.map { Int($0) } }
                guard values.count == items.count, !values.isEmpty else { throw fail("label \(name) must be a number or a list of numbers") }
                return Label(name: name, values: values)
            }
            throw fail("label \(name) must be a number or a list of numbers")
        }
        if case .array(let order)? = json["regions_class_order"] {
            regionsClassOrder = order.compactMap { $0.doubleValue.map { Int($0) } }
        } else {
            regionsClassOrder = nil
        }
        fileEnding = json["file_ending"]?.stringValue ?? ".nii.gz"
        if hasRegions {
            guard let order = regionsClassOrder, order.count == outputChannels else {
                throw fail("a region-based dataset needs regions_class_order with one entry per region")
            }
        } else {
            let values = labels.map { $0.values[0] }.sorted()
            guard values == Array(0..<values.count) else { throw fail("labels must be consecutive 0, 1, 2, … (found \(values))") }
        }
    }

    /// The label values other than background, ascending (nnU-Net's `foreground_labels`).
    public var foregroundLabels: [Int] { Array(Set(labels.flatMap(\.values)).subtracting([0])).sorted() }

    /// The name of each output label value (background included), for label tables.
    public var labelNames: [(value: Int, name: String)] {
        if let order = regionsClassOrder, hasRegions {
            let foreground = labels.filter { $0.values != [0] }
            return [(0, labels.first { $0.values == [0] }?.name ?? "background")] + zip(order, foreground).map { ($0, $1.name) }
        }
        return labels.map { ($0.values[0], $0.name) }.sorted { $0.0 < $1.0 }
    }
}
