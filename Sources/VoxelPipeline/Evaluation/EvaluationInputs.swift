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
    public let description: String
    public init(_ description: String) { self.description = description }
}
