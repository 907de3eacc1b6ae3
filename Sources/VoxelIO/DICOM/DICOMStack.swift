import VoxelCore

/// Slices of one series that form one volume: same orientation, size, echo and temporal position,
/// sorted by position along the slice normal.
public struct DICOMStack: Sendable {
    /// Slices in spatial order (ascending projection of ImagePositionPatient on the normal); for a Siemens
    /// MOSAIC series, its files (each a whole volume) in acquisition order.
    public var slices: [DICOMSlice]
    /// Problems found while assembling (duplicates dropped, missing slices, uneven spacing, tilt).
    public var problems: [String]
    /// Distance between slices along the normal (mm), nil for a single slice or no geometry.
    public var sliceSpacing: Double?
    /// True when the stack can become a volume with a regular grid.
    public var isRegular: Bool
    /// Why the stack cannot become a regular volume, when it cannot.
    public var irregularity: String?
    /// True when the slices are sheared (gantry tilt): resampling along the normal cannot fix that.
    public var isTilted: Bool = false
    /// Files left out because another file of the stack has the same position: (left out, kept).
    public var droppedDuplicates: [(path: String, kept: String)] = []

    /// The second and later volumes of a series acquired over the same positions several times (fMRI with
    /// TemporalPositionIdentifier, diffusion with one b-value and direction per volume): each volume's slices
    /// in the spatial order of `slices`, volumes in acquisition order. Empty for a 3D stack.
    public var laterVolumes: [[DICOMSlice]] = []

    /// Volumes the stack makes: the MOSAIC files of a MOSAIC series, else 1 plus `laterVolumes`.
    public var volumeCount: Int { header.isMosaic ? slices.count : 1 + laterVolumes.count }

    /// Every slice of every volume.
    public var allSlices: [DICOMSlice] { laterVolumes.isEmpty ? slices : slices + laterVolumes.flatMap { $0 } }

    /// Every file of the stack, each once, in slice order.
    public var files: [String] {
        var seen = Set<String>()
        return allSlices.map(\.path).filter { seen.insert($0).inserted }
    }

    /// The first file of each volume, in volume order (for the per-volume attributes of a 4D series).
    public var volumeFiles: [String] {
        header.isMosaic ? slices.map(\.path) : [slices[0].path] + laterVolumes.compactMap { $0.first?.path }
    }

    /// True when several volumes come from one file (an enhanced multi-frame 4D image): per-volume
    /// attributes are then in `volumeWeightings`, not in separate files.
    public var volumesShareFiles: Bool { !header.isMosaic && Set(volumeFiles).count < volumeFiles.count }

    /// The diffusion weighting of each volume as its first slice carries it (per-frame MR Diffusion of
    /// enhanced images, or the standard attributes of single-frame files); nil where a volume has none.
    public var volumeWeightings: [(bValue: Double, gradient: SIMD3<Double>?)?] {
        let firsts = header.isMosaic ? slices : [slices[0]] + laterVolumes.compactMap(\.first)
        return firsts.map { s in
            s.header.diffusionBValue.map { b in (b, s.header.diffusionGradient.flatMap { $0.count == 3 ? SIMD3($0[0], $0[1], $0[2]) : nil }) }
        }
    }

    /// The first slice's header, which describes the series.
    public var header: DICOMHeader { slices[0].header }

    /// Series-level identifiers and a short label, e.g. "3 CT HEAD (108 slices)".
    public var label: String {
        let h = header
        let number = h.seriesNumber.map { "\($0) " } ?? ""
        var s = "\(number)\(h.modality) \(h.seriesDescription)".trimmingCharacters(in: [" "])
        if let e = h.echoNumber, e > 1 { s += " echo \(e)" }
        if h.isMosaic {
            let volumes = slices.count == 1 ? "" : ", \(slices.count) volumes"
            return s + " (MOSAIC of \(h.mosaicImages) slices\(volumes))"
        }
        if !laterVolumes.isEmpty { return s + " (\(slices.count) slices, \(volumeCount) volumes)" }
        return s + " (\(slices.count) slice\(slices.count == 1 ? "" : "s"))"
    }
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
