import VoxelCore

/// An image with its optional label map: spatial augmentations move both with the same draw.
public struct AugmentationSample: Sendable {
    public var image: Volume
    public var label: LabelMap?

    /// Creates a sample; the label (when given) must share the image's grid size.
    public init(image: Volume, label: LabelMap? = nil) throws {
        if let label, label.geometry.size != image.geometry.size {
            throw TransformError.incompatibleVolume("label grid \(label.geometry.size) differs from image grid \(image.geometry.size)")
        }
        self.image = image
        self.label = label
    }

    /// The same sample with a new image on the same grid (intensity augmentations).
    func withImage(_ newImage: Volume) throws -> AugmentationSample {
        try AugmentationSample(image: newImage, label: label)
    }

    /// The same sample with the image's physical values replaced by `values` (float32).
    func withImageValues(_ values: [Float]) throws -> AugmentationSample {
        try withImage(image.replacingVoxels(with: .float32(values)))
    }
}

/// Checks the parameters every random augmentation shares.
func checkAugmentation(probability: Double, _ rangeIsValid: Bool, _ what: String) throws {
    guard (0...1).contains(probability), rangeIsValid else {
        throw TransformError.invalidParameter("probability must be in 0…1 and \(what)")
    }
}
