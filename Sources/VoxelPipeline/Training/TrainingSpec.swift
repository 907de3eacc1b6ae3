import VoxelNN
import VoxelSupport

/// The `"training"` section of a training pipeline: what to learn from, how the cases are split, and the
/// network, loss, optimiser and schedule. Checked with the rest of the pipeline file, every problem with its
/// JSON path, line and column. `docs/pipelines.md` documents every key.
public struct TrainingSpec: Sendable {
    /// How the cases are divided into training, validation and test.
    public enum Split: Sendable, Equatable {
        /// Fractions of the cases (sorted by id, shuffled with `seed`); the test fraction is what remains.
        case fractions(train: Double, validation: Double, seed: UInt64)
        /// Named cases for each part (a case may be in several, for demonstrations on one scan).
        case lists(train: [String], validation: [String], test: [String])
        /// Fold `fold` of `folds` (cases shuffled with `seed`) is the validation set; no test set.
        case kFold(folds: Int, fold: Int, seed: UInt64)
    }

    /// The value id (input or stage) of the image after preprocessing.
    public var image: String
    /// The value id of the label map after preprocessing (segmentation; empty for a classifier).
    public var label: String
    /// Classifier networks (`monai-resnet`, `monai-densenet`): the class names, one per network output, in order.
    public var classes: [String] = []
    /// Classifier networks: the CSV file, relative to the archive folder, giving each case's class
    /// (`case,class` rows; a header row is allowed).
    public var caseClasses: String = ""
    /// Whether the section trains a whole-volume classifier rather than a segmentation network.
    public var isClassification: Bool { !classes.isEmpty }
    public var split: Split
    /// The network description (as `segment` takes it); its `out` is the number of classes.
    public var network: JSON
    /// Patch size along i, j, k in voxels.
    public var patch: [Int]
    /// Fraction of patches centred on a foreground voxel.
    public var positiveFraction: Double
    public var batch: Int
    public var epochs: Int
    /// Training steps per epoch.
    public var iterationsPerEpoch: Int
    /// Validate every this many epochs (and after the last).
    public var validationInterval: Int
    public var loss: JSON
    public var optimizer: JSON
    public var schedule: JSON
    /// Clip the global gradient norm to this value (nil: no clipping).
    public var clipGradient: Double?
    /// Random augmentations applied to every training sample, in order (`{"type", "p", …}`).
    public var augmentation: [JSON]
    /// Sliding-window overlap of the validation inference.
    public var validationOverlap: Double

    /// The section with every default filled in, as written to the run folder.
    public var resolved: JSON {
        let splitJSON: JSON
        switch split {
        case let .fractions(train, validation, seed):
            splitJSON = .object([("train", .number(train)), ("validation", .number(validation)), ("seed", .int(Int(seed)))])
        case let .lists(train, validation, test):
            splitJSON = .object([("train", .array(train.map { .string($0) })), ("validation", .array(validation.map { .string($0) })),
                                 ("test", .array(test.map { .string($0) }))])
        case let .kFold(folds, fold, seed):
            splitJSON = .object([("folds", .int(folds)), ("fold", .int(fold)), ("seed", .int(Int(seed)))])
        }
        var items: [(String, JSON)] = [("image", .string(image))]
        if isClassification {
            items += [("classes", .array(classes.map { .string($0) })), ("caseClasses", .string(caseClasses))]
        } else {
            items.append(("label", .string(label)))
        }
        items += [("split", splitJSON), ("network", network),
                                       ("patch", .array(patch.map { .int($0) })), ("positiveFraction", .number(positiveFraction)),
                                       ("batch", .int(batch)), ("epochs", .int(epochs)), ("iterationsPerEpoch", .int(iterationsPerEpoch)),
                                       ("validationInterval", .int(validationInterval)), ("loss", loss), ("optimizer", optimizer),
                                       ("schedule", schedule)]
        if let clipGradient { items.append(("clipGradient", .number(clipGradient))) }
        items.append(("augmentation", .array(augmentation)))
        items.append(("validationOverlap", .number(validationOverlap)))
        return .object(items)
    }

    /// The keys of the section.
    static let keys = ["image", "label", "classes", "caseClasses", "split", "network", "patch", "positiveFraction", "batch", "epochs", "iterationsPerEpoch",
                       "validationInterval", "loss", "optimizer", "schedule", "clipGradient", "augmentation", "validationOverlap"]
    static let lossKeys = ["type", "includeBackground", "smoothNr", "smoothDr", "squaredPred", "batch", "classWeights",
                           "lambdaDice", "lambdaCE", "gamma", "alpha"]
    static let optimizerKeys = ["type", "lr", "weightDecay", "momentum", "dampening", "nesterov", "beta1", "beta2", "eps"]
    static let scheduleKeys = ["type", "exponent", "warmup", "every", "gamma"]
    /// Augmentation types and their parameter keys (besides `type` and `p`).
    static let augmentationKeys: [String: [String]] = [
        "flip": ["axes"], "rotate90": ["plane"], "affine": ["maxRotation", "scale"], "elastic": ["controlPoints", "maxDisplacement"],
        "gamma": ["range"], "noise": ["std"], "contrast": ["range"], "bias-field": ["degree", "coefficient"], "low-resolution": ["range"],
    ]
}

extension TrainingSpec {
    /// The loss the section describes.
    /// - Throws: `NNError.invalidInput` for an unknown type (the validator reports it first).
    public func makeLoss() throws -> any Loss {
        let c = NetworkConfiguration(loss)
        let bg = try c.bool("includeBackground", true)
        var weights: [Float]?
        if case .array(let items)? = loss["classWeights"] { weights = items.compactMap { $0.doubleValue.map(Float.init) } }
        let dice = DiceLoss(activation: .softmax, includeBackground: bg, smoothNr: Float(try c.double("smoothNr", 1e-5)),
                            smoothDr: Float(try c.double("smoothDr", 1e-5)), squaredPred: try c.bool("squaredPred", false), batch: try c.bool("batch", false))
        switch try c.string("type", "dicece") {
        case "dicece":
            return DiceCELoss(dice: dice, crossEntropy: CrossEntropyLoss(classWeights: weights), lambdaDice: Float(try c.double("lambdaDice", 1)),
                              lambdaCE: Float(try c.double("lambdaCE", 1)))
        case "dice": return dice
        case "ce": return CrossEntropyLoss(classWeights: weights)
        case "focal": return FocalLoss(gamma: Float(try c.double("gamma", 2)), alpha: loss["alpha"]?.doubleValue.map(Float.init), includeBackground: bg)
        case let other: throw NNError.invalidInput("loss type \"\(other)\" is unknown")
        }
    }

    /// The optimiser the section describes, and its base learning rate.
    public func makeOptimizer() throws -> (Optimizer, Double) {
        let c = NetworkConfiguration(optimizer)
        let decay = Float(try c.double("weightDecay", 0))
        let beta1 = Float(try c.double("beta1", 0.9)), beta2 = Float(try c.double("beta2", 0.999)), eps = Float(try c.double("eps", 1e-8))
        switch try c.string("type", "adam") {
        case "adam": return (Optimizer(.adam(beta1: beta1, beta2: beta2, eps: eps), weightDecay: decay), try c.double("lr", 1e-3))
        case "adamw": return (Optimizer(.adamW(beta1: beta1, beta2: beta2, eps: eps), weightDecay: decay), try c.double("lr", 1e-3))
        case "sgd":
            return (Optimizer(.sgd(momentum: Float(try c.double("momentum", 0.99)), dampening: Float(try c.double("dampening", 0)),
                                   nesterov: try c.bool("nesterov", true)), weightDecay: decay), try c.double("lr", 1e-2))
        case let other: throw NNError.invalidInput("optimizer type \"\(other)\" is unknown")
        }
    }

    /// The learning-rate schedule the section describes.
    public func makeSchedule() throws -> LearningRateSchedule {
        let c = NetworkConfiguration(schedule)
        switch try c.string("type", "poly") {
        case "constant": return .constant
        case "poly": return .poly(exponent: try c.double("exponent", 0.9))
        case "cosine": return .cosine(warmup: try c.int("warmup", 0))
        case "step": return .step(every: try c.int("every", 1, minimum: 1), gamma: try c.double("gamma", 0.1))
        case let other: throw NNError.invalidInput("schedule type \"\(other)\" is unknown")
        }
    }
}

// MARK: checks

extension Checker {
    /// Reads and checks the `training` section; nil (with issues recorded) when it has problems.
    mutating func training(_ node: JSONNode, known: Set<String>) -> TrainingSpec? {
        let before = issues.count
        guard let keys = members(node, path: "training", allowed: TrainingSpec.keys) else { return nil }
        func string(_ key: String) -> String? {
            guard let m = keys[key] else { issue("training", node, "missing key \"\(key)\""); return nil }
            guard let s = m.value.string, !s.isEmpty else { issue("training.\(key)", m.value, "expected a non-empty string"); return nil }
            return s
        }
        func number(_ key: String, _ fallback: Double, _ range: ClosedRange<Double>, in keys: [String: JSONNode.Member], path: String = "training") -> Double {
            guard let m = keys[key] else { return fallback }
            guard case .number(let d) = m.value.value, range.contains(d) else {
                issue("\(path).\(key)", m.value, "expected a number in \(range.lowerBound)…\(range.upperBound)")
                return fallback
            }
            return d
        }
        func integer(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>, in keys: [String: JSONNode.Member], path: String = "training") -> Int {
            let d = number(key, Double(fallback), Double(range.lowerBound)...Double(range.upperBound), in: keys, path: path)
            guard d == d.rounded() else { issue("\(path).\(key)", keys[key]?.value ?? node, "expected a whole number"); return fallback }
            return Int(d)
        }
        let classifier = (try? Networks.make(keys["network"]?.value.json ?? .null))?.isClassifier ?? false
        let image = string("image") ?? "", label = classifier ? "" : (string("label") ?? "")
        var classes: [String] = [], caseClasses = ""
        if classifier {
            if let m = keys["label"] { issue("training.label", m.value, "a classifier learns one class per case from \"caseClasses\", not a label map") }
            if let m = keys["classes"] {
                if case .array(let items) = m.value.value, !items.isEmpty, items.allSatisfy({ !($0.string ?? "").isEmpty }) {
                    classes = items.compactMap(\.string)
                    if Set(classes).count != classes.count { issue("training.classes", m.value, "class names must differ") }
                } else {
                    issue("training.classes", m.value, "expected a non-empty array of class names")
                }
            } else {
                issue("training", node, "missing key \"classes\" (the class names of a classifier, one per output)")
            }
            caseClasses = string("caseClasses") ?? ""
            if let out = (try? Networks.make(keys["network"]?.value.json ?? .null))?.outChannels, !classes.isEmpty, out != classes.count, let m = keys["classes"] {
                issue("training.classes", m.value, "\(classes.count) class names for a network with \(out) outputs")
            }
        } else {
            for key in ["classes", "caseClasses"] {
                if let m = keys[key] { issue("training.\(key)", m.value, "only classifier networks (monai-resnet, monai-densenet) take \"\(key)\"") }
            }
        }
        for (key, id) in [("image", image), ("label", label)] where !id.isEmpty && !known.contains(id) {
            if let m = keys[key] { issue("training.\(key)", m.value, "no input or stage has the id \"\(id)\"" + DidYouMean.suffix(id, among: Array(known))) }
        }
        // Network
        var network: JSON = .null
        if let m = keys["network"] {
            network = m.value.json
            do {
                let net = try Networks.make(network)
                if !(net is any TrainableNetwork) { issue("training.network", m.value, "\(network["type"]?.stringValue ?? "this network") cannot be trained yet (trainable: monai-unet, monai-basicunet, monai-segresnet, monai-dynunet, monai-resnet, monai-densenet)") }
            } catch {
                issue("training.network", m.value, "\(error)")
            }
        } else {
            issue("training", node, "missing key \"network\"")
        }
        // Split
        var split = TrainingSpec.Split.fractions(train: 0.7, validation: 0.15, seed: 0)
        if let m = keys["split"], let s = members(m.value, path: "training.split", allowed: ["train", "validation", "test", "seed", "folds", "fold"]) {
            func names(_ key: String) -> [String]? {
                guard let n = s[key] else { return nil }
                guard case .array(let items) = n.value.value, items.allSatisfy({ $0.string != nil }) else { return nil }
                return items.compactMap(\.string)
            }
            let seed = UInt64(integer("seed", 0, 0...Int(Int32.max), in: s, path: "training.split"))
            if s["folds"] != nil {
                let folds = integer("folds", 5, 2...100, in: s, path: "training.split")
                let fold = integer("fold", 0, 0...99, in: s, path: "training.split")
                if fold >= folds, let f = s["fold"] { issue("training.split.fold", f.value, "fold \(fold) is not below folds (\(folds))") }
                split = .kFold(folds: folds, fold: fold, seed: seed)
            } else if let train = names("train") {
                let validation = names("validation") ?? [], test = names("test") ?? []
                if train.isEmpty, let t = s["train"] { issue("training.split.train", t.value, "list at least one training case") }
                split = .lists(train: train, validation: validation, test: test)
            } else {
                let train = number("train", 0.7, 0.01...1, in: s, path: "training.split")
                let validation = number("validation", 0.15, 0...0.99, in: s, path: "training.split")
                if train + validation > 1 + 1e-9 { issue("training.split", m.value, "train and validation fractions add up to more than 1") }
                split = .fractions(train: train, validation: validation, seed: seed)
            }
        }
        var patch = [64, 64, 64]
        if let m = keys["patch"] {
            if case .array(let items) = m.value.value, items.count == 3,
               case let values = items.compactMap({ n -> Int? in if case .number(let d) = n.value, d >= 8, d <= 512, d == d.rounded() { return Int(d) } else { return nil } }),
               values.count == 3 {
                patch = values
            } else {
                issue("training.patch", m.value, "expected 3 whole numbers in 8…512 (voxels along i, j, k)")
            }
        }
        if let multiple = try? Networks.make(network).sizeMultiple, patch.contains(where: { $0 % multiple != 0 }), let m = keys["patch"] {
            issue("training.patch", m.value, "patch \(patch) is not a multiple of \(multiple), which this network needs")
        }
        func choice(_ key: String, allowed: [String], types: [String], defaultType: String) -> JSON {
            guard let m = keys[key] else { return .object([("type", .string(defaultType))]) }
            let path = "training.\(key)"
            guard let s = members(m.value, path: path, allowed: allowed) else { return .null }
            let type = s["type"]?.value.string ?? defaultType
            if !types.contains(type) { issue(path + ".type", s["type"]?.value ?? m.value, "unknown \(key) type \"\(type)\"; known: \(types.joined(separator: ", "))" + DidYouMean.suffix(type, among: types)) }
            for (k, member) in s where k != "type" {
                switch member.value.value {
                case .number, .bool: break
                case .array(let items) where k == "classWeights" && items.allSatisfy({ if case .number(let d) = $0.value { return d >= 0 } else { return false } }): break
                default: issue("\(path).\(k)", member.value, "expected a number or a boolean" + (k == "classWeights" ? " (classWeights: an array of numbers ≥ 0)" : ""))
                }
            }
            var json = m.value.json
            if case .object(var items) = json, !items.contains(where: { $0.0 == "type" }) { items.insert(("type", .string(defaultType)), at: 0); json = .object(items) }
            return json
        }
        let loss = choice("loss", allowed: TrainingSpec.lossKeys, types: ["dicece", "dice", "ce", "focal"], defaultType: "dicece")
        let optimizer = choice("optimizer", allowed: TrainingSpec.optimizerKeys, types: ["adam", "adamw", "sgd"], defaultType: "adam")
        let schedule = choice("schedule", allowed: TrainingSpec.scheduleKeys, types: ["constant", "poly", "cosine", "step"], defaultType: "poly")
        var augmentation: [JSON] = []
        if let m = keys["augmentation"] {
            if case .array(let items) = m.value.value {
                for (i, item) in items.enumerated() {
                    let path = "training.augmentation[\(i)]"
                    let type = item.member("type")?.value.string ?? ""
                    guard let extra = TrainingSpec.augmentationKeys[type] else {
                        let known = TrainingSpec.augmentationKeys.keys.sorted()
                        issue(path, item, "unknown augmentation type \"\(type)\"; known: \(known.joined(separator: ", "))" + DidYouMean.suffix(type, among: known))
                        continue
                    }
                    guard let s = members(item, path: path, allowed: ["type", "p"] + extra) else { continue }
                    _ = number("p", 0.5, 0...1, in: s, path: path)
                    augmentation.append(item.json)
                }
            } else {
                issue("training.augmentation", m.value, "expected an array of augmentations")
            }
        }
        var clip: Double?
        if keys["clipGradient"] != nil { clip = number("clipGradient", 12, 0.000001...1e9, in: keys) }
        var spec = TrainingSpec(image: image, label: label, split: split, network: network, patch: patch,
                                positiveFraction: number("positiveFraction", 0.33, 0...1, in: keys), batch: integer("batch", 2, 1...256, in: keys),
                                epochs: integer("epochs", 10, 1...100_000, in: keys), iterationsPerEpoch: integer("iterationsPerEpoch", 50, 1...1_000_000, in: keys),
                                validationInterval: integer("validationInterval", 1, 1...100_000, in: keys), loss: loss, optimizer: optimizer,
                                schedule: schedule, clipGradient: clip, augmentation: augmentation,
                                validationOverlap: number("validationOverlap", 0.5, 0...0.95, in: keys))
        spec.classes = classes
        spec.caseClasses = caseClasses
        return issues.count == before ? spec : nil
    }
}

extension TrainingSpec {
    /// The JSON Schema of the `training` section (for editors; `voxelflow validate` checks more).
    static var schema: JSON {
        func number(_ description: String, _ minimum: Double? = nil, _ maximum: Double? = nil) -> JSON {
            var items: [(String, JSON)] = [("type", .string("number")), ("description", .string(description))]
            if let minimum { items.append(("minimum", .number(minimum))) }
            if let maximum { items.append(("maximum", .number(maximum))) }
            return .object(items)
        }
        func integer(_ description: String, _ minimum: Int) -> JSON {
            .object([("type", .string("integer")), ("minimum", .int(minimum)), ("description", .string(description))])
        }
        func typed(_ types: [String], _ keys: [String], _ description: String) -> JSON {
            .object([("type", .string("object")), ("additionalProperties", .bool(false)), ("description", .string(description)),
                     ("properties", .object(keys.map { key in
                         (key, key == "type" ? .object([("enum", .array(types.map { .string($0) }))]) : .object([]))
                     }))])
        }
        return .object([
            ("type", .string("object")), ("additionalProperties", .bool(false)),
            ("description", .string("makes the pipeline a training pipeline for `voxelflow train` (docs/pipelines.md, Training pipelines)")),
            ("required", .array([.string("image"), .string("network")])),
            ("properties", .object([
                ("image", .object([("type", .string("string")), ("description", .string("id of the preprocessed image (input or stage)"))])),
                ("label", .object([("type", .string("string")), ("description", .string("segmentation: id of the label map on the image's grid"))])),
                ("classes", .object([("type", .string("array")), ("items", .object([("type", .string("string"))])), ("minItems", .int(1)),
                                     ("description", .string("classifier (monai-resnet, monai-densenet): class names, one per network output"))])),
                ("caseClasses", .object([("type", .string("string")), ("description", .string("classifier: CSV file in the archive folder with case,class rows"))])),
                ("split", .object([("type", .string("object")), ("description", .string("{train, validation} fractions and seed (default 0.7/0.15, the rest is test); or {train, validation, test} case lists; or {folds, fold, seed}"))])),
                ("network", .object([("type", .string("object")), ("description", .string("network description as `segment` or `classify` takes it (monai-unet, monai-basicunet, monai-segresnet, monai-dynunet, monai-resnet, monai-densenet)"))])),
                ("patch", .object([("type", .string("array")), ("items", .object([("type", .string("integer"))])), ("minItems", .int(3)), ("maxItems", .int(3)),
                                   ("description", .string("patch size along i, j, k in voxels (default 64³)"))])),
                ("positiveFraction", number("share of patches centred on a labelled voxel (default 0.33)", 0, 1)),
                ("batch", integer("patches per step (default 2)", 1)),
                ("epochs", integer("epochs (default 10)", 1)),
                ("iterationsPerEpoch", integer("steps per epoch (default 50)", 1)),
                ("validationInterval", integer("validate every this many epochs (default 1)", 1)),
                ("loss", typed(["dicece", "dice", "ce", "focal"], ["type"] + lossKeys.filter { $0 != "type" }, "loss (default dicece)")),
                ("optimizer", typed(["adam", "adamw", "sgd"], ["type"] + optimizerKeys.filter { $0 != "type" }, "optimiser (default adam, lr 1e-3)")),
                ("schedule", typed(["constant", "poly", "cosine", "step"], ["type"] + scheduleKeys.filter { $0 != "type" }, "learning-rate schedule (default poly 0.9)")),
                ("clipGradient", number("clip the global gradient norm to this value", 0)),
                ("augmentation", .object([("type", .string("array")), ("items", .object([("type", .string("object")), ("required", .array([.string("type")])),
                    ("properties", .object([("type", .object([("enum", .array(augmentationKeys.keys.sorted().map { .string($0) }))])), ("p", number("probability", 0, 1))]))]))])),
                ("validationOverlap", number("sliding-window overlap of validation (default 0.5)", 0, 0.95)),
            ])),
        ])
    }
}
