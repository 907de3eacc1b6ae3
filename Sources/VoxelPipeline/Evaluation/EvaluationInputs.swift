import Foundation
import VoxelCore
import VoxelIO

/// One case of `voxelflow evaluate`: its name, the reference segmentation and the prediction found for it.
public struct EvaluationCase: Sendable, Equatable {
    /// The case name: the reference file's name without its extension.
    public var id: String
    /// The prediction file; `nil` when none was found for the reference.
    public var prediction: String?
    /// The reference file.
    public var reference: String
}

/// Finds and reads what `voxelflow evaluate` compares: label files (NIfTI or DICOM SEG) or folders of them paired
/// by case name.
public enum EvaluationInputs {
    /// File name endings of label files, longest first.
    public static let extensions = [".nii.gz", ".nii", ".dcm"]

    /// The case name of a label file: its name without a label-file extension.
    public static func caseName(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent
        for e in extensions where name.lowercased().hasSuffix(e) { return String(name.dropLast(e.count)) }
        return name
    }

    /// Pairs predictions with references.
    ///
    /// Two files make one case named after the reference. Two folders make one case per label file directly in the
    /// reference folder (`.nii.gz`, `.nii`, `.dcm`), whose prediction is the file of the same case name in the
    /// prediction folder — or, with `predictionFile`, `PRED/CASE/FILE` or `PRED/cases/CASE/FILE` (a `voxelflow run`
    /// output folder, where `FILE` is the name a writer stage gave the label map).
    /// - Returns: the cases in name order, and the prediction files that match no reference.
    /// - Throws: `EvaluationInputError` when a path is missing, one is a file and the other a folder, or the reference
    ///   folder holds no label file.
    public static func pair(prediction: String, reference: String, predictionFile: String? = nil) throws -> (cases: [EvaluationCase], unmatched: [String]) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: reference, isDirectory: &isDir) else { throw EvaluationInputError("\(reference): no such file or folder") }
        let referenceIsFolder = isDir.boolValue
        guard fm.fileExists(atPath: prediction, isDirectory: &isDir) else { throw EvaluationInputError("\(prediction): no such file or folder") }
        guard isDir.boolValue == referenceIsFolder else {
            throw EvaluationInputError("give two files or two folders: \(referenceIsFolder ? prediction : reference) is a file and \(referenceIsFolder ? reference : prediction) a folder")
        }
        guard referenceIsFolder else {
            return ([EvaluationCase(id: caseName(reference), prediction: prediction, reference: reference)], [])
        }
        func labelFiles(_ folder: String) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
                .filter { name in !name.hasPrefix(".") && extensions.contains { name.lowercased().hasSuffix($0) } }
                .map { "\(folder)/\($0)" }
                .filter { fm.fileExists(atPath: $0, isDirectory: &isDir) && !isDir.boolValue }
        }
        let references = labelFiles(reference)
        guard !references.isEmpty else {
            throw EvaluationInputError("\(reference): no label file (\(extensions.joined(separator: ", "))) in the folder")
        }
        var used = Set<String>()
        let cases = references.map { ref -> EvaluationCase in
            let id = caseName(ref)
            let candidates = predictionFile.map { ["\(prediction)/\(id)/\($0)", "\(prediction)/cases/\(id)/\($0)"] }
                ?? extensions.map { "\(prediction)/\(id)\($0)" }
            let found = candidates.first { fm.fileExists(atPath: $0) }
            if let found { used.insert(found) }
            return EvaluationCase(id: id, prediction: found, reference: ref)
        }
        let unmatched = predictionFile == nil ? labelFiles(prediction).filter { !used.contains($0) } : []
        return (cases, unmatched)
    }

    /// Reads a prediction and its reference. Either may be an RT Structure Set: its contours are drawn onto the other
    /// file's grid, and its ROIs become labels by name through `table` (else the other file's table, a SEG's segments),
    /// or by their order in the file without a table.
    /// - Throws: `EvaluationInputError` when both are RT Structure Sets or an ROI's name is not in the table; the
    ///   readers' errors otherwise.
    public static func readPair(prediction: String, reference: String, table: LabelTable?)
        throws -> (prediction: LabelMap, predictionTable: LabelTable?, reference: LabelMap, referenceTable: LabelTable?) {
        let predictionIsRT = DICOMRTStruct.isStructureSet(prediction), referenceIsRT = DICOMRTStruct.isStructureSet(reference)
        if predictionIsRT && referenceIsRT {
            throw EvaluationInputError("\(prediction) and \(reference) are both RT Structure Sets: one side must be a label map (NIfTI or DICOM SEG) whose grid the contours are drawn on")
        }
        if referenceIsRT {
            let (p, pTable) = try read(prediction)
            let r = try contours(reference, grid: p.geometry, table: table ?? pTable)
            return (p, pTable, r.labels, r.table)
        }
        let (r, rTable) = try read(reference)
        if predictionIsRT {
            let p = try contours(prediction, grid: r.geometry, table: table ?? rTable)
            return (p.labels, p.table, r, rTable)
        }
        let (p, pTable) = try read(prediction)
        return (p, pTable, r, rTable)
    }

    /// An RT Structure Set drawn onto `grid`, its ROIs numbered by name through `table` (by order without one).
    static func contours(_ path: String, grid: Geometry, table: LabelTable?) throws -> (labels: LabelMap, table: LabelTable) {
        let rt = try DICOMRTStruct.read(path, grid: grid, gridName: "the other label map")
        guard let table else { return (rt.labels, rt.table) }
        var byName: [String: Int] = [:]
        for l in table.labels { byName[l.name.lowercased()] = l.value }
        var mapping: [Int: Int] = [:]
        var renamed: [LabelInfo] = []
        for roi in rt.table.labels {
            guard let value = byName[roi.name.lowercased()] else {
                throw EvaluationInputError("\(path): ROI \"\(roi.name)\" is not named in the label table (\(table.labels.map { "\"\($0.name)\"" }.joined(separator: ", ")))")
            }
            mapping[roi.value] = value
            var info = roi
            info.value = value
            renamed.append(info)
        }
        let ranks = rt.labels.volume.voxels
        let values = (0..<ranks.count).map { n -> Int32 in
            let rank = Int(ranks.value(at: n))
            return rank == 0 ? 0 : Int32(mapping[rank] ?? 0)
        }
        let map = try LabelMap(Volume(geometry: grid, voxels: .int32(values)))
        return (map, LabelTable(renamed))
    }

    /// Reads a label file: a NIfTI label map (integer, or whole numbers stored as floats) or a DICOM SEG (on the grid
    /// its frames span), with the SEG's segment table.
    /// - Throws: the reader's error (naming the file), or `CaseError.notLabels` for values that are not labels.
    public static func read(_ path: String) throws -> (labels: LabelMap, table: LabelTable?) {
        if path.lowercased().hasSuffix(".dcm") || DICOMSegmentation.isSegmentation(path) {
            let seg = try DICOMSegmentation.read(path)
            return (seg.labels, seg.table)
        }
        do {
            return (try LabelConversion.labelMap(from: NIfTI.read(path).volume), nil)
        } catch let error as CaseError {
            throw EvaluationInputError("\(path): \(error)")
        }
    }
}

/// A prediction or reference `voxelflow evaluate` cannot use, with the reason (naming the path).
public struct EvaluationInputError: Error, CustomStringConvertible, Equatable {
    /// The path and the problem.
    public let description: String
    /// An error with its message (starting with the path it is about).
    public init(_ description: String) { self.description = description }
}
