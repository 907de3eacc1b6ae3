import Foundation
import VoxelSupport

/// Turns the parts of a MONAI bundle's inference configuration that VoxelFlow uses — `network_def`,
/// `preprocessing`, `inferer`, `postprocessing` — into a model package's network description, stages and
/// sliding-window settings. Everything else in the file (device, datalist, dataset, handlers, evaluator,
/// `initialize`, `run`) is MONAI's runtime and is left alone. Unknown components in the used parts are refused
/// by name and JSON path.
struct MonaiBundleTranslation {
    let config: MonaiBundleConfig
    /// The key of the image in MONAI's dictionaries (`image`).
    let imageKey: String
    /// What was left out or approximated, for the model card.
    var notes: [String] = []

    init(config: MonaiBundleConfig, imageKey: String) {
        self.config = config
        self.imageKey = imageKey
    }

    /// Networks MONAI bundles use that this engine does not build yet.
    static let unbuiltNetworks = ["SegResNetDS", "SegResNetVAE", "UNETR", "VNet", "AttentionUnet",
                                  "HighResNet", "FlexibleUNet", "EfficientNetBN", "ViT", "AHNet", "RegUNet", "LocalNet"]
    /// The `network_def` targets this importer translates.
    static let builtNetworks = "UNet, BasicUNet, SegResNet, DynUNet, SwinUNETR, DenseNet121/169/201/264"

    // MARK: network

    /// The VoxelFlow description of `network_def`.
    func network() throws -> JSON {
        guard let raw = config.entry("network_def") else { throw config.fail("$", "no \"network_def\" entry: the bundle does not say which network it uses") }
        let value = try config.shallow(raw, path: "network_def")
        guard let (target, args) = MonaiBundleConfig.component(value) else {
            throw config.fail("network_def", "expected a component with \"_target_\"")
        }
        let a = Arguments(args, path: "network_def", config: config)
        switch target {
        case "UNet", "Unet":
            try a.only(["spatial_dims", "dimensions", "in_channels", "out_channels", "channels", "strides", "kernel_size", "up_kernel_size",
                        "num_res_units", "act", "norm", "dropout", "bias", "adn_ordering"])
            try requireThreeD(a)
            var d: [(String, JSON)] = [("type", .string("monai-unet")), ("in", .int(try a.int("in_channels"))), ("out", .int(try a.int("out_channels"))),
                                       ("channels", .array(try a.ints("channels").map { .int($0) })), ("strides", .array(try a.ints("strides").map { .int($0) })),
                                       ("numResUnits", .int(try a.int("num_res_units", 0)))]
            for (key, ours) in [("kernel_size", "kernelSize"), ("up_kernel_size", "upKernelSize")] where a.has(key) {
                d.append((ours, .int(try a.isotropic(key))))
            }
            d += try activation(a, default: "prelu")
            d.append(("norm", .string(try norm(a))))
            if let dropout = try a.value("dropout"), dropout != .null, dropout.doubleValue == nil { throw config.fail("network_def.dropout", "expected a number") }
            if a.has("bias"), try a.value("bias") != .bool(true) { throw config.fail("network_def.bias", "UNet without convolution bias is not built by this engine") }
            if let order = try a.value("adn_ordering"), order != .string("NDA") {
                throw config.fail("network_def.adn_ordering", "only MONAI's default order \"NDA\" (norm, dropout, activation) is built")
            }
            return .object(d)
        case "BasicUNet", "BasicUnet", "Basicunet":
            try a.only(["spatial_dims", "dimensions", "in_channels", "out_channels", "features", "act", "norm", "bias", "dropout", "upsample"])
            try requireThreeD(a)
            for key in ["act", "norm", "upsample"] where a.has(key) {
                throw config.fail("network_def.\(key)", "BasicUNet is built with MONAI's default \(key) only; leave it out")
            }
            var d: [(String, JSON)] = [("type", .string("monai-basicunet")), ("in", .int(try a.int("in_channels", 1))), ("out", .int(try a.int("out_channels", 2)))]
            if a.has("features") { d.append(("features", .array(try a.ints("features").map { .int($0) }))) }
            return .object(d)
        case "SegResNet":
            try a.only(["spatial_dims", "init_filters", "in_channels", "out_channels", "dropout_prob", "act", "norm", "norm_name", "num_groups",
                        "use_conv_final", "blocks_down", "blocks_up", "upsample_mode"])
            try requireThreeD(a)
            var d: [(String, JSON)] = [("type", .string("monai-segresnet")), ("in", .int(try a.int("in_channels", 1))), ("out", .int(try a.int("out_channels", 2))),
                                       ("initFilters", .int(try a.int("init_filters", 8)))]
            if a.has("blocks_down") { d.append(("blocksDown", .array(try a.ints("blocks_down").map { .int($0) }))) }
            if a.has("blocks_up") { d.append(("blocksUp", .array(try a.ints("blocks_up").map { .int($0) }))) }
            if !(try a.bool("use_conv_final", true)) { throw config.fail("network_def.use_conv_final", "SegResNet without its final convolution is not built") }
            switch try a.value("act") {
            case nil: break
            case let act?:
                let (name, options) = try Self.nameAndOptions(act, path: "network_def.act", config: config)
                switch name.lowercased() {
                case "relu": break
                case "leakyrelu": d += [("act", .string("leakyrelu")), ("negativeSlope", .number(options["negative_slope"]?.doubleValue ?? 0.01))]
                default: throw config.fail("network_def.act", "activation \"\(name)\" is not built in SegResNet (ReLU, LeakyReLU)")
                }
            }
            if let name = try a.value("norm_name")?.stringValue, !name.isEmpty, name.lowercased() != "group" {
                throw config.fail("network_def.norm_name", "norm_name \"\(name)\" is not one MONAI accepts (group)")
            }
            var groups = try a.int("num_groups", 8)
            if let norm = try a.value("norm") {
                let (name, options) = try Self.nameAndOptions(norm, path: "network_def.norm", config: config)
                switch name.lowercased() {
                case "group": groups = Int(options["num_groups"]?.doubleValue ?? 8)
                case "instance": d.append(("norm", .string(options["affine"] == .bool(true) ? "instance-affine" : "instance")))
                case "batch": d.append(("norm", .string("batch")))
                default: throw config.fail("network_def.norm", "norm \"\(name)\" is not built in SegResNet (group, instance, batch)")
                }
            }
            d.append(("numGroups", .int(groups)))
            switch (try a.value("upsample_mode"))?.stringValue?.lowercased() ?? "nontrainable" {
            case "nontrainable": break
            case "deconv": d.append(("upsampleMode", .string("deconv")))
            case let other: throw config.fail("network_def.upsample_mode", "upsampling \"\(other)\" is not built (nontrainable, deconv)")
            }
            return .object(d)
        case "DynUNet", "DynUnet", "Dynunet":
            try a.only(["spatial_dims", "in_channels", "out_channels", "kernel_size", "strides", "upsample_kernel_size", "filters", "dropout",
                        "norm_name", "act_name", "deep_supervision", "deep_supr_num", "res_block", "trans_bias"])
            try requireThreeD(a)
            var d: [(String, JSON)] = [("type", .string("monai-dynunet")), ("in", .int(try a.int("in_channels"))), ("out", .int(try a.int("out_channels")))]
            for (key, ours) in [("kernel_size", "kernelSize"), ("strides", "strides"), ("upsample_kernel_size", "upsampleKernelSize")] {
                d.append((ours, .array(try a.levels(key).map { .array($0.map { .int($0) }) })))
            }
            if let filters = try a.value("filters"), filters != .null { d.append(("filters", .array(try a.ints("filters").map { .int($0) }))) }
            if let dropout = try a.value("dropout"), dropout != .null, dropout.doubleValue == nil { throw config.fail("network_def.dropout", "expected a number") }
            if let norm = try a.value("norm_name") {
                let (name, options) = try Self.nameAndOptions(norm, path: "network_def.norm_name", config: config)
                switch name.lowercased() {
                case "instance": d.append(("norm", .string(options["affine"] == .bool(true) ? "instance-affine" : "instance")))
                case "batch": d.append(("norm", .string("batch")))
                case "group": d += [("norm", .string("group")), ("numGroups", .int(Int(options["num_groups"]?.doubleValue ?? 8)))]
                default: throw config.fail("network_def.norm_name", "norm \"\(name)\" is not built in DynUNet (instance, batch, group)")
                }
            }
            if let act = try a.value("act_name") {
                let (name, options) = try Self.nameAndOptions(act, path: "network_def.act_name", config: config)
                switch name.lowercased() {
                case "leakyrelu": d += [("act", .string("leakyrelu")), ("negativeSlope", .number(options["negative_slope"]?.doubleValue ?? 0.01))]
                case "relu": d.append(("act", .string("relu")))
                case "prelu":
                    if let n = options["num_parameters"]?.doubleValue, n != 1 { throw config.fail("network_def.act_name", "PReLU with one slope per channel is not built") }
                    d.append(("act", .string("prelu")))
                default: throw config.fail("network_def.act_name", "activation \"\(name)\" is not built in DynUNet (LeakyReLU, ReLU, PReLU)")
                }
            }
            d += [("resBlock", .bool(try a.bool("res_block", false))), ("transBias", .bool(try a.bool("trans_bias", false))),
                  ("deepSupervision", .bool(try a.bool("deep_supervision", false)))]
            return .object(d)
        case "SwinUNETR", "SwinUnetr":
            try a.only(["spatial_dims", "img_size", "in_channels", "out_channels", "patch_size", "depths", "num_heads", "window_size", "qkv_bias",
                        "mlp_ratio", "feature_size", "norm_name", "drop_rate", "attn_drop_rate", "dropout_path_rate", "normalize", "patch_norm",
                        "use_checkpoint", "downsample", "use_v2", "use_flash_attention", "use_hyena", "hyena_stages", "hyena_kernel_size",
                        "hyena_kernel_mlp_dim", "hyena_kernel_layers", "hyena_mask_max_attenuation", "hyena_fft_padding", "hyena_grid_type",
                        "hyena_use_chunked_fft", "hyena_use_fft_short_conv", "hyena_omega_0", "hyena_l_cache", "hyena_short_conv_fft_chunks"])
            try requireThreeD(a)
            // img_size only fed a size check in older MONAI (input sizes are checked here against 32 anyway);
            // use_checkpoint and use_flash_attention change memory and speed, not results.
            if try a.int("patch_size", 2) != 2 { throw config.fail("network_def.patch_size", "only patch_size 2 is built (MONAI's decoder assumes it)") }
            if try a.bool("use_hyena", false) { throw config.fail("network_def.use_hyena", "HyenaND stages are not built; windowed attention is") }
            if case .array(let stages)? = try a.value("hyena_stages"), stages.contains(.bool(true)) {
                throw config.fail("network_def.hyena_stages", "HyenaND stages are not built; windowed attention is")
            }
            var d: [(String, JSON)] = [("type", .string("monai-swinunetr")), ("in", .int(try a.int("in_channels"))), ("out", .int(try a.int("out_channels"))),
                                       ("featureSize", .int(try a.int("feature_size", 24)))]
            if a.has("depths") { d.append(("depths", .array(try a.ints("depths").map { .int($0) }))) }
            if a.has("num_heads") { d.append(("numHeads", .array(try a.ints("num_heads").map { .int($0) }))) }
            if let window = try a.value("window_size") {
                d.append(("windowSize", window.doubleValue != nil ? .int(try a.int("window_size")) : .array(try a.ints("window_size").map { .int($0) })))
            }
            if a.has("mlp_ratio") { d.append(("mlpRatio", .number(try a.double("mlp_ratio")))) }
            for (key, ours, fallback) in [("qkv_bias", "qkvBias", true), ("normalize", "normalize", true), ("patch_norm", "patchNorm", false),
                                          ("use_v2", "useV2", false)] where a.has(key) {
                d.append((ours, .bool(try a.bool(key, fallback))))
            }
            for (key, ours) in [("drop_rate", "dropRate"), ("attn_drop_rate", "attnDropRate"), ("dropout_path_rate", "dropoutPathRate")] where a.has(key) {
                d.append((ours, .number(try a.double(key))))
            }
            if let merging = try a.value("downsample") {
                guard let name = merging.stringValue, name == "merging" || name == "mergingv2" else {
                    throw config.fail("network_def.downsample", "only MONAI's \"merging\" and \"mergingv2\" are built")
                }
                d.append(("downsample", .string(name)))
            }
            if let norm = try a.value("norm_name") {
                let (name, options) = try Self.nameAndOptions(norm, path: "network_def.norm_name", config: config)
                switch name.lowercased() {
                case "instance": d.append(("norm", .string(options["affine"] == .bool(true) ? "instance-affine" : "instance")))
                case "batch": d.append(("norm", .string("batch")))
                case "group": d += [("norm", .string("group")), ("numGroups", .int(Int(options["num_groups"]?.doubleValue ?? 8)))]
                default: throw config.fail("network_def.norm_name", "norm \"\(name)\" is not built in SwinUNETR (instance, batch, group)")
                }
            }
            return .object(d)
        case "DenseNet121", "Densenet121", "densenet121", "DenseNet169", "Densenet169", "densenet169", "DenseNet201", "Densenet201", "densenet201",
             "DenseNet264", "Densenet264", "densenet264", "DenseNet", "Densenet", "densenet":
            try a.only(["spatial_dims", "in_channels", "out_channels", "init_features", "growth_rate", "block_config", "bn_size", "act", "norm",
                        "dropout_prob", "pretrained", "progress"])
            try requireThreeD(a)
            if try a.bool("pretrained", false) { throw config.fail("network_def.pretrained", "pretrained ImageNet weights are 2D and fetched from the internet; not built") }
            var d: [(String, JSON)] = [("type", .string("monai-densenet")), ("in", .int(try a.int("in_channels"))), ("out", .int(try a.int("out_channels")))]
            let preset = target.lowercased()
            if preset != "densenet" { d.append(("preset", .string(preset))) }
            for (key, ours) in [("init_features", "initFeatures"), ("growth_rate", "growthRate"), ("bn_size", "bnSize")] where a.has(key) {
                d.append((ours, .int(try a.int(key))))
            }
            if a.has("block_config") { d.append(("blockConfig", .array(try a.ints("block_config").map { .int($0) }))) }
            if let act = try a.value("act") {
                let (name, _) = try Self.nameAndOptions(act, path: "network_def.act", config: config)
                guard name.lowercased() == "relu" else { throw config.fail("network_def.act", "activation \"\(name)\" is not built in DenseNet (ReLU)") }
            }
            if let norm = try a.value("norm") {
                let (name, options) = try Self.nameAndOptions(norm, path: "network_def.norm", config: config)
                switch name.lowercased() {
                case "batch": break
                case "instance": d.append(("norm", .string(options["affine"] == .bool(true) ? "instance-affine" : "instance")))
                case "group": d += [("norm", .string("group")), ("numGroups", .int(Int(options["num_groups"]?.doubleValue ?? 8)))]
                default: throw config.fail("network_def.norm", "norm \"\(name)\" is not built in DenseNet (batch, instance, group)")
                }
            }
            _ = try a.double("dropout_prob", 0)
            return .object(d)
        case let name where Self.unbuiltNetworks.contains(name):
            throw config.fail("network_def._target_", "network \(name) is not built by this engine yet (built: \(Self.builtNetworks))")
        default:
            throw config.fail("network_def._target_", "unknown network \"\(target)\" (built: \(Self.builtNetworks))")
        }
    }

    private func requireThreeD(_ a: Arguments) throws {
        let dims = try a.int(a.has("spatial_dims") ? "spatial_dims" : "dimensions", 3)
        guard dims == 3 else { throw config.fail("network_def.spatial_dims", "only 3D networks are built (spatial_dims \(dims))") }
    }

    private func activation(_ a: Arguments, default fallback: String) throws -> [(String, JSON)] {
        guard let value = try a.value("act"), value != .null else { return [("act", .string(fallback))] }
        let (name, options) = try Self.nameAndOptions(value, path: "network_def.act", config: config)
        switch name.lowercased() {
        case "prelu":
            if let n = options["num_parameters"]?.doubleValue, n != 1 { throw config.fail("network_def.act", "PReLU with one slope per channel is not built") }
            return [("act", .string("prelu"))]
        case "relu": return [("act", .string("relu"))]
        case "leakyrelu": return [("act", .string("leakyrelu")), ("negativeSlope", .number(options["negative_slope"]?.doubleValue ?? 0.01))]
        default: throw config.fail("network_def.act", "activation \"\(name)\" is not built (PReLU, ReLU, LeakyReLU)")
        }
    }

    private func norm(_ a: Arguments) throws -> String {
        guard let value = try a.value("norm") else { return "instance" }
        if value == .null { return "none" }
        let (name, options) = try Self.nameAndOptions(value, path: "network_def.norm", config: config)
        switch name.lowercased() {
        case "instance": return options["affine"] == .bool(true) ? "instance-affine" : "instance"
        case "batch": return "batch"
        default: throw config.fail("network_def.norm", "norm \"\(name)\" is not built in UNet (instance, batch, none)")
        }
    }

    /// MONAI's layer factories take `"name"` or `["name", {options}]`.
    static func nameAndOptions(_ value: JSON, path: String, config: MonaiBundleConfig) throws -> (String, [String: JSON]) {
        switch value {
        case .string(let s): return (s, [:])
        case .array(let items):
            guard let name = items.first?.stringValue else { break }
            var options: [String: JSON] = [:]
            if items.count > 1, case .object(let members) = items[1] { for (k, v) in members { options[k] = v } }
            return (name, options)
        default: break
        }
        throw config.fail(path, "expected \"name\" or [\"name\", {options}]")
    }

    // MARK: transforms

    /// The transforms of a `Compose` entry (`preprocessing`, `postprocessing`), resolved, with their paths.
    func transforms(_ id: String) throws -> [(path: String, target: String, arguments: Arguments)] {
        guard let raw = config.entry(id) else { return [] }
        let value = try config.shallow(raw, path: id)
        var list: [JSON] = [], listPath = id
        if let (target, args) = MonaiBundleConfig.component(value) {
            guard target == "Compose" else { throw config.fail("\(id)._target_", "expected Compose, found \(target)") }
            listPath = "\(id).transforms"
            guard let items = args.first(where: { $0.0 == "transforms" })?.1, case .array(let l) = try config.shallow(items, path: listPath) else {
                throw config.fail(listPath, "expected a list of transforms")
            }
            list = l
        } else if case .array(let items) = value {
            list = items
        } else {
            throw config.fail(id, "expected a Compose component or a list of transforms")
        }
        return try list.enumerated().compactMap { n, raw in
            let path = "\(listPath)[\(n)]"
            let item = try config.shallow(raw, path: path)
            if MonaiBundleConfig.isDisabled(item) { return nil }
            guard let (target, args) = MonaiBundleConfig.component(item) else { throw config.fail(path, "expected a transform with \"_target_\"") }
            return (path, target, Arguments(args, path: path, config: config))
        }
    }

    /// True when a dictionary transform applies to the image (its `keys` name it).
    func appliesToImage(_ a: Arguments) throws -> Bool {
        switch try a.value("keys") {
        case .string(let s)?: return s == imageKey
        case .array(let items)?: return items.contains(.string(imageKey))
        default: return true
        }
    }

    /// Transforms that change nothing VoxelFlow computes (loading, channel layout, tensor types, devices).
    static let noEffect: Set<String> = ["LoadImaged", "LoadImage", "EnsureChannelFirstd", "EnsureChannelFirst", "AddChanneld", "AddChannel",
                                        "EnsureTyped", "EnsureType", "ToTensord", "ToTensor", "ToNumpyd", "ToDeviced", "CastToTyped",
                                        "SaveImaged", "SaveImage", "DeleteItemsd", "Identityd", "SqueezeDimd", "FromMetaTensord", "ToMetaTensord"]

    /// The preprocessing transforms as VoxelFlow stages (the first takes `input`).
    mutating func preprocessing() throws -> [JSON] {
        var stages: [JSON] = []
        var previous = ModelPackage.inputID
        func add(_ id: String, _ type: String, _ parameters: [(String, JSON)]) {
            stages.append(.object([("id", .string(id)), ("type", .string(type)), ("source", .string(previous))] + parameters))
            previous = id
        }
        for (path, target, a) in try transforms("preprocessing") {
            if Self.noEffect.contains(target) { continue }
            guard try appliesToImage(a) else { notes.append("\(path) \(target) applies to other keys than \"\(imageKey)\" and was left out"); continue }
            switch target {
            case "Orientationd", "Orientation":
                try a.only(["keys", "axcodes", "labels", "allow_missing_keys", "lazy"])
                guard let code = try a.value("axcodes")?.stringValue, code.count == 3 else { throw config.fail("\(path).axcodes", "expected a three-letter orientation code") }
                add("orientation", "reorient", [("orientation", .string(code.uppercased()))])
            case "Spacingd", "Spacing":
                try a.only(["keys", "pixdim", "mode", "padding_mode", "align_corners", "dtype", "allow_missing_keys", "lazy", "diagonal"])
                let pixdim = try a.doubles("pixdim")
                guard pixdim.count == 3, pixdim.allSatisfy({ $0 > 0 }) else { throw config.fail("\(path).pixdim", "expected three positive spacings (mm)") }
                add("spacing", "resample", [("spacing", .numbers(pixdim)), ("interpolation", .string(try interpolation(a, path: path))),
                                             ("size", .string("centres"))])
            case "ScaleIntensityRanged", "ScaleIntensityRange":
                try a.only(["keys", "a_min", "a_max", "b_min", "b_max", "clip", "dtype", "allow_missing_keys"])
                add("intensity", "scale-intensity-range", [("aMin", .number(try a.double("a_min"))), ("aMax", .number(try a.double("a_max"))),
                                                           ("bMin", .number(try a.double("b_min", 0))), ("bMax", .number(try a.double("b_max", 1))),
                                                           ("clip", .bool(try a.bool("clip", false)))])
            case "NormalizeIntensityd", "NormalizeIntensity":
                try a.only(["keys", "nonzero", "channel_wise", "dtype", "allow_missing_keys"])
                if try a.bool("channel_wise", false) { notes.append("\(path): channel_wise normalisation; VoxelFlow's normalize uses one mean and deviation over all channels") }
                add("normalised", "normalize", [("nonzero", .bool(try a.bool("nonzero", false)))])
            case "CropForegroundd", "CropForeground":
                try a.only(["keys", "source_key", "margin", "allow_smaller", "allow_missing_keys", "lazy"])
                if let source = try a.value("source_key")?.stringValue, source != imageKey {
                    throw config.fail("\(path).source_key", "the foreground must come from the image (\"\(imageKey)\"), not \"\(source)\"")
                }
                add("foreground", "crop-foreground", [("threshold", .int(0)), ("margin", .int(try a.isotropic("margin", 0)))])
            default:
                throw config.fail("\(path)._target_", "transform \(target) is not known to VoxelFlow's importer (known: Orientationd, Spacingd, ScaleIntensityRanged, NormalizeIntensityd, CropForegroundd, and loading/type transforms)")
            }
        }
        return Self.uniqueIDs(stages)
    }

    private func interpolation(_ a: Arguments, path: String) throws -> String {
        var mode = try a.value("mode") ?? .string("bilinear")
        if case .array(let modes) = mode, case .array(let keys)? = try a.value("keys"), let i = keys.firstIndex(of: .string(imageKey)), modes.indices.contains(i) {
            mode = modes[i]
        }
        switch mode.stringValue?.lowercased() {
        case "bilinear"?, "trilinear"?, "linear"?: return "linear"
        case "nearest"?: return "nearest"
        case "bicubic"?, "3"?:
            return "bspline"
        default: throw config.fail("\(path).mode", "interpolation \(mode.serialized(pretty: false)) is not available (bilinear, nearest, bicubic)")
        }
    }

    /// Gives repeated stage ids (two Spacingd) a number.
    static func uniqueIDs(_ stages: [JSON]) -> [JSON] {
        var counts: [String: Int] = [:]
        var renamed: [String: String] = [:]
        return stages.map { s in
            guard case .object(let members) = s, let id = s["id"]?.stringValue else { return s }
            counts[id, default: 0] += 1
            let newID = counts[id] == 1 ? id : "\(id)-\(counts[id] ?? 0)"
            let result = JSON.object(members.map { key, value in
                if key == "id" { return (key, .string(newID)) }
                if key == "source", let ref = value.stringValue, let r = renamed[ref] { return (key, .string(r)) }
                return (key, value)
            })
            renamed[id] = newID
            return result
        }
    }

    /// A classifier's `inferer`: `SimpleInferer` (the whole image at once), or none. Nothing to carry over.
    func classifierInference() throws -> [(String, JSON)] {
        guard let raw = config.entry("inferer") else { return [] }
        let value = try config.shallow(raw, path: "inferer")
        guard let (target, _) = MonaiBundleConfig.component(value) else { throw config.fail("inferer", "expected a component with \"_target_\"") }
        guard target == "SimpleInferer" else {
            throw config.fail("inferer._target_", "inferer \(target) is not supported for a classifier (SimpleInferer)")
        }
        return []
    }

    /// The `inferer` as `segment` settings.
    func inference() throws -> [(String, JSON)] {
        guard let raw = config.entry("inferer") else { throw config.fail("$", "no \"inferer\" entry") }
        let value = try config.shallow(raw, path: "inferer")
        guard let (target, args) = MonaiBundleConfig.component(value) else { throw config.fail("inferer", "expected a component with \"_target_\"") }
        guard target == "SlidingWindowInferer" else {
            throw config.fail("inferer._target_", "inferer \(target) is not supported (SlidingWindowInferer)")
        }
        let a = Arguments(args, path: "inferer", config: config)
        try a.only(["roi_size", "sw_batch_size", "overlap", "mode", "sigma_scale", "padding_mode", "cval", "sw_device", "device", "progress", "cache_roi_weight_map", "cpu_thresh", "buffer_steps", "buffer_dim", "with_coord"])
        let roi = try a.ints("roi_size")
        guard roi.count == 3 else { throw config.fail("inferer.roi_size", "expected three window sizes") }
        let mode = try a.value("mode")?.stringValue ?? "constant"
        guard mode == "constant" || mode == "gaussian" else { throw config.fail("inferer.mode", "blending \"\(mode)\" is not available (constant, gaussian)") }
        var result: [(String, JSON)] = [("roi", .array(roi.map { .int($0) })), ("overlap", .number(try a.double("overlap", 0.25))),
                                        ("blend", .string(mode)), ("batchSize", .int(try a.int("sw_batch_size", 1)))]
        if mode == "gaussian" { result.append(("sigmaScale", .number(try a.double("sigma_scale", 0.125)))) }
        return result
    }

    /// The postprocessing: activation, how results return to the input grid, and label stages after the argmax.
    mutating func postprocessing() throws -> (settings: [(String, JSON)], stages: [JSON]) {
        var settings: [(String, JSON)] = []
        var stages: [JSON] = []
        var previous = ModelPackage.predictionID
        var discrete = false, inverted = false
        for (path, target, a) in try transforms("postprocessing") {
            if Self.noEffect.contains(target) { continue }
            switch target {
            case "Activationsd", "Activations":
                try a.only(["keys", "softmax", "sigmoid", "other", "allow_missing_keys"])
                if try a.bool("sigmoid", false) { settings.append(("activation", .string("sigmoid"))) } else if try a.bool("softmax", false) {
                    settings.append(("activation", .string("softmax")))
                }
            case "Invertd":
                inverted = true
                settings.append(("resampleBack", .string(discrete ? "labels" : "probabilities")))
            case "AsDiscreted", "AsDiscrete":
                try a.only(["keys", "argmax", "threshold", "to_onehot", "rounding", "allow_missing_keys", "dim", "keepdim"])
                if let t = try a.value("threshold"), t != .null {
                    guard let v = t.doubleValue else { throw config.fail("\(path).threshold", "expected a number") }
                    settings.append(("activation", .string("sigmoid")))
                    settings.append(("threshold", .number(v)))
                }
                discrete = true
            case "KeepLargestConnectedComponentd", "KeepLargestConnectedComponent":
                try a.only(["keys", "applied_labels", "is_onehot", "independent", "connectivity", "num_components", "allow_missing_keys"])
                if a.has("independent"), try !a.bool("independent", true) { throw config.fail("\(path).independent", "only independent=true (each label on its own) is available") }
                if let n = try a.value("num_components"), n != .int(1) { throw config.fail("\(path).num_components", "only the single largest component is kept") }
                if a.has("applied_labels") { notes.append("\(path): applied_labels \(try a.value("applied_labels")?.serialized(pretty: false) ?? ""); VoxelFlow keeps the largest component of every label") }
                let connectivity: String
                switch try a.value("connectivity")?.doubleValue {
                case nil: connectivity = "26"
                case 1?: connectivity = "6"
                case 2?: connectivity = "18"
                default: connectivity = "26"
                }
                stages.append(.object([("id", .string("largest")), ("type", .string("keep-largest-component")), ("source", .string(previous)), ("connectivity", .string(connectivity))]))
                previous = "largest"
            case "FillHolesd", "FillHoles":
                stages.append(.object([("id", .string("filled")), ("type", .string("fill-holes")), ("source", .string(previous))]))
                previous = "filled"
            default:
                throw config.fail("\(path)._target_", "transform \(target) is not known to VoxelFlow's importer (known: Activationsd, Invertd, AsDiscreted, KeepLargestConnectedComponentd, FillHolesd, SaveImaged)")
            }
        }
        if !inverted { settings.append(("resampleBack", .string("labels"))) }
        return (settings, Self.uniqueIDs(stages))
    }
}

/// A component's arguments, with typed reads whose errors name the JSON path.
struct Arguments {
    let members: [(String, JSON)]
    let path: String
    let config: MonaiBundleConfig

    init(_ members: [(String, JSON)], path: String, config: MonaiBundleConfig) {
        self.members = members
        self.path = path
        self.config = config
    }

    /// The argument `key` with its references resolved; arguments never read are never resolved, so a `$`
    /// expression in one VoxelFlow does not use (a device, a progress flag) does no harm.
    func value(_ key: String) throws -> JSON? {
        guard let raw = members.first(where: { $0.0 == key })?.1 else { return nil }
        return try config.resolve(raw, path: "\(path).\(key)")
    }
    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }

    /// Refuses arguments this translation does not know, so that nothing changes meaning silently.
    func only(_ known: [String]) throws {
        if let other = members.first(where: { !known.contains($0.0) }) {
            throw config.fail("\(path).\(other.0)", "argument \"\(other.0)\" is not understood by VoxelFlow's importer")
        }
    }

    func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
        guard let v = try value(key), v != .null else {
            if let fallback { return fallback }
            throw config.fail("\(path)", "missing argument \"\(key)\"")
        }
        guard let d = v.doubleValue, d == d.rounded(), abs(d) < 1e9 else { throw config.fail("\(path).\(key)", "expected a whole number") }
        return Int(d)
    }

    func double(_ key: String, _ fallback: Double? = nil) throws -> Double {
        guard let v = try value(key), v != .null else {
            if let fallback { return fallback }
            throw config.fail("\(path)", "missing argument \"\(key)\"")
        }
        guard let d = v.doubleValue else { throw config.fail("\(path).\(key)", "expected a number") }
        return d
    }

    func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        switch try value(key) {
        case nil, .null?: return fallback
        case .bool(let b)?: return b
        default: throw config.fail("\(path).\(key)", "expected true or false")
        }
    }

    func doubles(_ key: String) throws -> [Double] {
        guard case .array(let items)? = try value(key) else { throw config.fail("\(path).\(key)", "expected a list of numbers") }
        return try items.map { item in
            guard let d = item.doubleValue else { throw config.fail("\(path).\(key)", "expected a list of numbers") }
            return d
        }
    }

    func ints(_ key: String) throws -> [Int] {
        try doubles(key).map { d in
            guard d == d.rounded(), abs(d) < 1e9 else { throw config.fail("\(path).\(key)", "expected whole numbers") }
            return Int(d)
        }
    }

    /// One size triple per level, each given as one number (isotropic) or three (DynUNet's `kernel_size`, `strides`).
    func levels(_ key: String) throws -> [[Int]] {
        guard case .array(let items)? = try value(key), !items.isEmpty else { throw config.fail("\(path).\(key)", "expected a list with one entry per level") }
        return try items.enumerated().map { index, item in
            func whole(_ j: JSON) throws -> Int {
                guard let d = j.doubleValue, d == d.rounded(), d >= 1, d < 1e4 else { throw config.fail("\(path).\(key)[\(index)]", "expected positive whole numbers") }
                return Int(d)
            }
            if case .array(let values) = item {
                guard values.count == 3 else { throw config.fail("\(path).\(key)[\(index)]", "expected one number or three (3D)") }
                return try values.map(whole)
            }
            let v = try whole(item)
            return [v, v, v]
        }
    }

    /// A size given as one number or as the same number per axis.
    func isotropic(_ key: String, _ fallback: Int? = nil) throws -> Int {
        if case .array = try value(key) {
            let sizes = try ints(key)
            guard let first = sizes.first, sizes.allSatisfy({ $0 == first }) else {
                throw config.fail("\(path).\(key)", "different sizes per axis are not built")
            }
            return first
        }
        return try int(key, fallback)
    }
}
