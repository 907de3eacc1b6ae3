import Foundation
import VoxelCore
import VoxelNN
import VoxelSupport
import VoxelTransforms

/// One preprocessed case held in memory for training: the image after the pipeline's stages and its labels
/// on the same grid (for a classifier, an empty label map and the case's class).
public struct TrainingCase: Sendable {
    public var id: String
    public var image: Volume
    public var label: LabelMap
    /// A classifier's target: the index of the case's class (nil when training segmentation).
    public var classIndex: Int?

    public init(id: String, image: Volume, label: LabelMap, classIndex: Int? = nil) {
        self.id = id
        self.image = image
        self.label = label
        self.classIndex = classIndex
    }
}

/// The class of each case of a classifier's training archive, read from its `case,class` CSV file.
public enum CaseClassTable {
    /// Case id → class index. A first row whose class is not one of `classes` is taken as a header.
    /// - Throws: `TrainingError.data` naming the file and line of a malformed row or an unknown class.
    public static func read(_ path: String, classes: [String]) throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.data("\(path): the class table of the training section (\"caseClasses\") cannot be read")
        }
        let index = Dictionary(classes.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var table: [String: Int] = [:]
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        for (n, line) in lines.enumerated() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, !fields[0].isEmpty else { throw TrainingError.data("\(path):\(n + 1): expected \"case,class\"") }
            guard let k = index[fields[1]] else {
                if n == 0 { continue }
                throw TrainingError.data("\(path):\(n + 1): class \"\(fields[1])\" is not one of the training section's classes (\(classes.joined(separator: ", ")))")
            }
            if table[fields[0]] != nil { throw TrainingError.data("\(path):\(n + 1): case \"\(fields[0])\" is listed twice") }
            table[fields[0]] = k
        }
        return table
    }
}

/// The cases of each part of a split, by id.
public struct TrainingSplit: Sendable, Equatable {
    public var train: [String]
    public var validation: [String]
    public var test: [String]

    /// Divides `ids` (sorted first, so that the file system's order does not matter) as `split` says.
    /// - Throws: `TrainingError.split` when a listed case does not exist or no training case remains.
    public static func make(_ split: TrainingSpec.Split, ids: [String]) throws -> TrainingSplit {
        let sorted = ids.sorted()
        func shuffled(_ seed: UInt64) -> [String] {
            var rng = SeededGenerator(seed: seed ^ 0x5eed_5011_7000_0001)
            var list = sorted
            if list.count > 1 {
                for i in stride(from: list.count - 1, to: 0, by: -1) {
                    let j = Int(rng.next() % UInt64(i + 1))
                    list.swapAt(i, j)
                }
            }
            return list
        }
        var result: TrainingSplit
        switch split {
        case let .fractions(train, validation, seed):
            let list = shuffled(seed)
            let nTrain = max(1, Int((train * Double(list.count)).rounded()))
            let nValidation = min(list.count - min(nTrain, list.count), Int((validation * Double(list.count)).rounded()))
            result = TrainingSplit(train: Array(list.prefix(nTrain)), validation: Array(list.dropFirst(nTrain).prefix(nValidation)),
                                   test: Array(list.dropFirst(nTrain + nValidation)))
        case let .lists(train, validation, test):
            let known = Set(sorted)
            if let missing = (train + validation + test).first(where: { !known.contains($0) }) {
                throw TrainingError.split("case \"\(missing)\" named in the split is not among the archive's cases (\(sorted.prefix(8).joined(separator: ", "))\(sorted.count > 8 ? ", …" : ""))")
            }
            result = TrainingSplit(train: train, validation: validation, test: test)
        case let .kFold(folds, fold, seed):
            let list = shuffled(seed)
            let validation = list.enumerated().filter { $0.offset % folds == fold }.map(\.element)
            result = TrainingSplit(train: list.filter { !validation.contains($0) }, validation: validation, test: [])
        }
        guard !result.train.isEmpty else { throw TrainingError.split("no case is left for training (\(sorted.count) case(s) in the archive)") }
        return result
    }

    /// `split.json`: the three lists.
    public var json: JSON {
        .object([("train", .array(train.map { .string($0) })), ("validation", .array(validation.map { .string($0) })),
                 ("test", .array(test.map { .string($0) }))])
    }
}

/// Why a training run cannot start or go on.
public enum TrainingError: Error, CustomStringConvertible {
    case notATrainingPipeline(String)
    case split(String)
    case output(String)
    case noUsableCases(String)
    case data(String)

    public var description: String {
        switch self {
        case .notATrainingPipeline(let file): return "\(file) has no \"training\" section, so it is not a training pipeline (run it with `voxelflow run`)"
        case .split(let why): return "split: \(why)"
        case .output(let why): return why
        case .noUsableCases(let why): return "no usable training case: \(why)"
        case .data(let why): return why
        }
    }
}

/// Builds training batches: random patches (foreground-centred with the spec's probability), augmented,
/// stacked into `N × 1 × D × H × W` image and `N × D × H × W` class-index tensors. Every draw comes from the
/// generator passed in, so a step's batch depends only on the run's seed and the step number.
struct BatchBuilder: Sendable {
    let cases: [TrainingCase]
    let sampler: PatchSampler
    let augmentations: [Augmentation]
    let batch: Int
    /// Classifier batches: each sample is a whole preprocessed image (augmented), the target its class index
    /// (`N × 1 × 1 × 1`), and the cases are drawn class by class in turn so that rare classes are seen as often.
    var classification = false

    /// One augmentation of the training section.
    enum Augmentation: Sendable {
        case flip(RandomFlip), rotate90(RandomRotate90), affine(RandomAffine), elastic(RandomElasticDeformation)
        case gamma(RandomGamma), noise(RandomGaussianNoise), contrast(RandomContrast), biasField(RandomBiasField)
        case lowResolution(RandomLowResolution)

        func apply(_ s: AugmentationSample, _ rng: inout SeededGenerator) throws -> AugmentationSample {
            switch self {
            case .flip(let t): return try t.apply(s, using: &rng)
            case .rotate90(let t): return try t.apply(s, using: &rng)
            case .affine(let t): return try t.apply(s, using: &rng)
            case .elastic(let t): return try t.apply(s, using: &rng)
            case .gamma(let t): return try t.apply(s, using: &rng)
            case .noise(let t): return try t.apply(s, using: &rng)
            case .contrast(let t): return try t.apply(s, using: &rng)
            case .biasField(let t): return try t.apply(s, using: &rng)
            case .lowResolution(let t): return try t.apply(s, using: &rng)
            }
        }

        /// The augmentation a `{"type", "p", …}` entry describes.
        init(_ json: JSON) throws {
            let c = NetworkConfiguration(json)
            let p = try c.double("p", 0.5)
            func range(_ key: String, _ fallback: ClosedRange<Double>) throws -> ClosedRange<Double> {
                guard case .array(let items)? = json[key] else { return fallback }
                let v = items.compactMap(\.doubleValue)
                guard v.count == 2, v[0] <= v[1] else { throw TrainingError.data("augmentation \(json["type"]?.stringValue ?? ""): \"\(key)\" must be [low, high]") }
                return v[0]...v[1]
            }
            func doubles(_ key: String, _ fallback: [Double]) -> [Double] {
                guard case .array(let items)? = json[key] else { return fallback }
                return items.compactMap(\.doubleValue)
            }
            switch try c.string("type") {
            case "flip": self = .flip(try RandomFlip(probability: p, axes: try c.ints("axes", [0, 1, 2], minimum: 0)))
            case "rotate90": self = .rotate90(try RandomRotate90(probability: p, plane: try c.ints("plane", [0, 1], minimum: 0)))
            case "affine": self = .affine(try RandomAffine(probability: p, maxRotation: doubles("maxRotation", [0.2, 0.2, 0.2]), scaleRange: try range("scale", 0.9...1.1)))
            case "elastic": self = .elastic(try RandomElasticDeformation(probability: p, controlPoints: try c.int("controlPoints", 7, minimum: 4),
                                                                          maxDisplacement: doubles("maxDisplacement", [7.5, 7.5, 7.5])))
            case "gamma": self = .gamma(try RandomGamma(probability: p, gammaRange: try range("range", 0.7...1.5)))
            case "noise": self = .noise(try RandomGaussianNoise(probability: p, stdRange: try range("std", 0...0.1)))
            case "contrast": self = .contrast(try RandomContrast(probability: p, factorRange: try range("range", 0.75...1.25)))
            case "bias-field": self = .biasField(try RandomBiasField(probability: p, degree: try c.int("degree", 3, minimum: 1), coefficientRange: try c.double("coefficient", 0.3)))
            case "low-resolution": self = .lowResolution(try RandomLowResolution(probability: p, factorRange: try range("range", 1...2)))
            case let other: throw TrainingError.data("augmentation type \"\(other)\" is unknown")
            }
        }
    }

    /// The batch of step `step`, drawn from `rng`.
    func batch(using rng: inout SeededGenerator) throws -> (input: Tensor, target: Tensor) {
        if classification { return try classificationBatch(using: &rng) }
        var images: [Float] = [], labels: [Float] = []
        var shape: [Int] = []
        for _ in 0..<batch {
            let c = cases[Int(rng.next() % UInt64(cases.count))]
            let sample = try AugmentationSample(image: c.image, label: c.label)
            guard var patch = try sampler.sample(sample, count: 1, using: &rng).first?.sample else {
                throw TrainingError.data("\(c.id): no patch could be drawn")
            }
            for a in augmentations { patch = try a.apply(patch, &rng) }
            guard let label = patch.label else { throw TrainingError.data("\(c.id): the patch lost its labels") }
            let size = patch.image.geometry.size
            shape = [size.z, size.y, size.x]
            images += patch.image.physicalFloats()
            labels += label.volume.physicalFloats()
        }
        return (try Tensor(shape: [batch, 1] + shape, data: images), try Tensor(shape: [batch] + shape, data: labels))
    }
}

extension BatchBuilder {
    /// A classifier's batch: a class drawn uniformly, then one of its cases, whole and augmented.
    func classificationBatch(using rng: inout SeededGenerator) throws -> (input: Tensor, target: Tensor) {
        let byClass = Dictionary(grouping: cases, by: { $0.classIndex ?? 0 })
        let classes = byClass.keys.sorted()
        var images: [Float] = [], targets: [Float] = []
        var shape: [Int] = []
        for _ in 0..<batch {
            let k = classes[Int(rng.next() % UInt64(classes.count))]
            guard let members = byClass[k], !members.isEmpty else { continue }
            let c = members[Int(rng.next() % UInt64(members.count))]
            var sample = try AugmentationSample(image: c.image, label: c.label)
            for a in augmentations { sample = try a.apply(sample, &rng) }
            let size = sample.image.geometry.size
            let s = [sample.image.timePoints, size.z, size.y, size.x]
            if !shape.isEmpty && shape != s { throw TrainingError.data("\(c.id): image size \(s) differs from the batch's \(shape); give every case one size (crop-or-pad)") }
            shape = s
            images += sample.image.physicalFloats()
            targets.append(Float(k))
        }
        return (try Tensor(shape: [batch] + shape, data: images), try Tensor(shape: [batch, 1, 1, 1], data: targets))
    }
}

extension Volume {
    /// The image as a `1 × 1 × nz × ny × nx` tensor of physical values.
    func trainingTensor() throws -> Tensor {
        let s = geometry.size
        return try Tensor(shape: [1, timePoints, s.z, s.y, s.x], data: physicalFloats())
    }
}

/// Builds the batch of the next step on a background thread while the current step computes. A batch depends
/// only on its step's seed, so prefetching changes nothing in the results.
final class BatchPrefetcher: @unchecked Sendable {
    private let builder: BatchBuilder
    private let seed: (Int) -> UInt64
    private let queue = DispatchQueue(label: "voxelflow.training.batches")
    private let lock = NSLock()
    private var pending: (step: Int, group: DispatchGroup)?
    private var result: Result<(Tensor, Tensor), Error>?

    init(builder: BatchBuilder, seed: @escaping @Sendable (Int) -> UInt64) {
        self.builder = builder
        self.seed = seed
    }

    private func build(_ step: Int) -> Result<(Tensor, Tensor), Error> {
        var rng = SeededGenerator(seed: seed(step))
        // One thread: the step's kernels use the others.
        return ComputeBudget.withThreads(1) { Result { try builder.batch(using: &rng) } }
    }

    /// The batch of `step` (waiting for it when it is being built), then starts building `next` (nil: none).
    func batch(for step: Int, next: Int?) throws -> (Tensor, Tensor) {
        var built: Result<(Tensor, Tensor), Error>
        if let pending, pending.step == step {
            pending.group.wait()
            lock.lock()
            built = result ?? build(step)
            result = nil
            lock.unlock()
        } else {
            if let pending { pending.group.wait() }
            built = build(step)
        }
        pending = nil
        if let next {
            let group = DispatchGroup()
            pending = (next, group)
            queue.async(group: group) { [self] in
                let r = build(next)
                lock.lock()
                result = r
                lock.unlock()
            }
        }
        return try built.get()
    }

    /// Waits for a batch being built (before the run ends or writes its checkpoint).
    func finish() { pending?.group.wait() }
}
