import VoxelCore
import VoxelIO
import VoxelSupport

/// One unit of work: the inputs of one patient scan (a DICOM series, or NIfTI files sharing a key).
public struct Case: Sendable {
    /// The sanitised case id; also the name of the case's output folder.
    public var id: String
    /// Inputs by name.
    public var inputs: [String: CaseInput]
    /// Why the case cannot run (for example a missing label file); it is then reported as failed.
    public var problem: String?
}

/// One input of one case and how to load it.
public struct CaseInput: Sendable {
    /// Where the data is.
    public enum Source: Sendable {
        case niftiFile(String)
        case dicomSeries(DICOMStack, DICOMInputOptions)
        /// A DICOM SEG or RTSTRUCT file, read onto the grid of the series it refers to.
        case dicomObject(path: String, series: DICOMStack)
    }

    public var name: String
    public var kind: ValueKind
    public var source: Source
    /// The archive root, so that records can give paths relative to it.
    public var archive: String

    /// A description for the manifest: file paths relative to the archive; for DICOM the series UID, the
    /// folder and the number of files (not every path). No patient names or birth dates.
    public var record: JSON {
        switch source {
        case .niftiFile(let path):
            return .object([("file", .string(CaseInput.relative(path, to: archive)))])
        case .dicomSeries(let stack, _):
            let folders = Set(stack.files.map { CaseInput.folder(of: $0) })
            let folder = folders.count == 1 ? folders.first ?? "" : CaseInput.commonPrefix(Array(folders))
            return .object([
                ("seriesInstanceUID", .string(stack.header.seriesInstanceUID)),
                ("modality", .string(stack.header.modality)),
                ("folder", .string(CaseInput.relative(folder, to: archive))),
                ("files", .int(stack.files.count)),
            ])
        case .dicomObject(let path, let series):
            return .object([("file", .string(CaseInput.relative(path, to: archive))), ("seriesInstanceUID", .string(series.header.seriesInstanceUID))])
        }
    }

    /// Reads the input into memory.
    /// - Throws: the reader's typed error (it names the file), or `CaseError` when a labels input does not
    ///   hold whole numbers.
    public func load(warnings: inout [String]) throws -> StageValue {
        let volume: Volume
        switch source {
        case .niftiFile(let path):
            let image = try NIfTI.read(path)
            warnings += image.warnings.map { "\(CaseInput.relative(path, to: archive)): \($0)" }
            volume = image.volume
        case .dicomSeries(let stack, let options):
            let tiltCorrected = stack.isTilted && !options.refuseTilt
            guard stack.isRegular || options.resampleSlices || tiltCorrected else {
                let hint = stack.isTilted ? "\"refuseTilt\" is set" : "set \"resampleSlices\": true on the input to resample"
                throw CaseError.unusableInput(input: name, reason: "DICOM series \(stack.label): \(stack.irregularity ?? "irregular slices") (\(hint))")
            }
            warnings += stack.problems.map { "DICOM series \(stack.label): \($0)" }
            var o = DICOMVolumeOptions()
            o.suvBodyWeight = options.suv
            o.resampleToUniformSpacing = options.resampleSlices
            o.correctGantryTilt = !options.refuseTilt
            volume = try stack.volume(options: o)
            if tiltCorrected { warnings.append("DICOM series \(stack.label): resliced onto an orthogonal grid to correct the gantry tilt") }
        case .dicomObject(let path, let series):
            let file = CaseInput.relative(path, to: archive)
            if DICOMRTStruct.isStructureSet(path) {
                let rt = try DICOMRTStruct.read(path, reference: series)
                warnings += rt.warnings.map { "\(file): \($0)" }
                if rt.overlappingVoxels > 0 { warnings.append("\(file): \(rt.overlappingVoxels) voxels lie in more than one ROI; the later ROI was kept") }
                return .labels(rt.labels)
            }
            let seg = try DICOMSegmentation.read(path, reference: series)
            if seg.overlappingVoxels > 0 { warnings.append("\(file): \(seg.overlappingVoxels) voxels lie in more than one segment; the higher segment number was kept") }
            return .labels(seg.labels)
        }
        switch kind {
        case .labels:
            do {
                return .labels(try LabelConversion.labelMap(from: volume))
            } catch let e as CaseError {
                throw CaseError.unusableInput(input: name, reason: e.message)
            }
        default:
            return .image(volume)
        }
    }

    static func relative(_ path: String, to root: String) -> String {
        if path == root { return "." }
        let r = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(r) ? String(path.dropFirst(r.count)) : path
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func commonPrefix(_ paths: [String]) -> String {
        guard var prefix = paths.min().map({ $0.split(separator: "/", omittingEmptySubsequences: false) }) else { return "" }
        for p in paths {
            let parts = p.split(separator: "/", omittingEmptySubsequences: false)
            var n = 0
            while n < min(prefix.count, parts.count) && prefix[n] == parts[n] { n += 1 }
            prefix = Array(prefix[..<n])
        }
        return prefix.joined(separator: "/")
    }
}

/// Why one case failed at one stage. The runner records the message in the manifest and goes on with the
/// other cases. Plugins throw these too (or any other error, whose description is recorded).
public enum CaseError: Error, CustomStringConvertible, Sendable {
    /// A stage asked for a value that no input or earlier stage holds.
    case noSuchValue(id: String)
    /// A value is of another kind than the stage needs (a report where an image is needed, …).
    case wrongKind(id: String, found: String, needed: String, hint: String? = nil)
    /// Two values that must share a grid do not.
    case gridMismatch(String)
    /// A stage's parameters cannot be used (found when it is set up, or with this case's values).
    case invalidParameters(stage: String?, reason: String)
    /// An input cannot be used as the pipeline says (a labels input holding fractions, an irregular series).
    case unusableInput(input: String, reason: String)
    /// Voxels that are not labels where a label map is needed.
    case notLabels(String)
    /// A file or folder could not be created or written.
    case cannotWrite(path: String, reason: String)
    /// An external program could not be started, failed, or wrote something unusable.
    case programFailed(program: String, reason: String)
    /// A network could not be loaded or run on this input.
    case model(stage: String?, reason: String)

    /// What went wrong, in words a user can act on.
    public var message: String {
        switch self {
        case .noSuchValue(let id): return "no value named \"\(id)\" in this case"
        case .wrongKind(let id, let found, let needed, let hint):
            return "\"\(id)\" is \(found), not \(needed)" + (hint.map { "; \($0)" } ?? "")
        case .gridMismatch(let why): return why
        case .invalidParameters(let stage, let reason): return (stage.map { "stage \($0): " } ?? "") + reason
        case .unusableInput(let input, let reason): return "input \"\(input)\": \(reason)"
        case .notLabels(let why): return why
        case .cannotWrite(let path, let reason): return "\(path): cannot write: \(reason)"
        case .programFailed(let program, let reason): return "\(program) \(reason)"
        case .model(let stage, let reason): return (stage.map { "stage \($0): " } ?? "") + reason
        }
    }

    public var description: String { message }
}

/// Label maps from files that store labels in other types (float NIfTI written by many tools).
public enum LabelConversion {
    /// The volume as a label map: integer volumes are used as they are; float or scaled volumes are
    /// accepted when every value is a whole number from 0 to 2³¹−1 and become the smallest fitting
    /// unsigned or signed integer type.
    /// - Throws: `CaseError` naming the first value that is not a label.
    public static func labelMap(from volume: Volume) throws -> LabelMap {
        if volume.voxelType.isInteger && volume.scaling.isIdentity { return try LabelMap(volume) }
        guard volume.voxelType != .rgb24 else { throw CaseError.notLabels("colour voxels cannot be labels") }
        guard volume.timePoints == 1 else { throw CaseError.notLabels("a label map is 3D, this file has \(volume.timePoints) volumes") }
        let n = volume.voxels.count
        var values = [Int32](repeating: 0, count: n)
        var maxValue: Int32 = 0
        for i in 0..<n {
            let v = volume.scaling.apply(volume.voxels.value(at: i))
            guard v == v.rounded(), v >= 0, v <= Double(Int32.max) else {
                throw CaseError.notLabels("voxel \(i) holds \(v), which is not a label (labels are whole numbers ≥ 0)")
            }
            values[i] = Int32(v)
            maxValue = max(maxValue, values[i])
        }
        let voxels: VoxelArray
        if maxValue <= Int32(UInt8.max) {
            voxels = .uint8(values.map { UInt8($0) })
        } else if maxValue <= Int32(Int16.max) {
            voxels = .int16(values.map { Int16($0) })
        } else {
            voxels = .int32(values)
        }
        return try LabelMap(Volume(geometry: volume.geometry, voxels: voxels, metadata: volume.metadata))
    }
}
