import Foundation
import VoxelCore
import VoxelIO
import VoxelPipeline
import VoxelSupport

/// The external command plugin: runs any program on a case's data and reads back the NIfTI label map it
/// writes, so nnU-Net, TotalSegmentator or a lab's own script can be a pipeline stage.
public enum ExternalCommandPlugin {
    /// Adds the `external-command` stage type.
    public static func register(in registry: inout StageRegistry) {
        registry.register(definition)
    }

    static let definition = StageDefinition(
        type: "external-command", category: .model,
        summary: "Run a program on the case (NIfTI files of chosen values, a JSON of parameters) with a timeout, and read back the NIfTI label map it writes.",
        parameters: [
            ParameterSpec("command", .array(of: .string, count: 1...1000),
                          doc: "program and arguments; placeholders: {nifti:ID} (a value written as NIfTI), {output} (label map to write), {params} (JSON file of `parameters`), {workdir}, {case}"),
            ParameterSpec("timeout", .number(0.001...1e6), default: .int(3600), doc: "seconds before the program (and its process group) is killed"),
            ParameterSpec("parameters", .object, default: .object([]), doc: "JSON object written to the {params} file"),
            ParameterSpec("grid", .reference([.image, .labels]), optional: true,
                          doc: "require the label map to be on this value's grid (size and affine within 1e-4 mm)"),
        ],
        produces: .kind(.labels),
        make: { c in
            let command = try c.strings("command")
            guard let program = command.first, !program.isEmpty else { throw CaseError.invalidParameters(stage: c.id, reason: "command is empty") }
            let executable = try ExternalCommandStage.resolve(program, pipelineDirectory: c.pipelineDirectory)
            for argument in command {
                for id in ExternalCommandStage.niftiReferences(in: argument) where id.isEmpty {
                    throw CaseError.invalidParameters(stage: c.id, reason: "\(argument): {nifti:} needs a value id")
                }
            }
            let parameters = try c.json("parameters")
            return ExternalCommandStage(executable: executable, arguments: Array(command.dropFirst()),
                                        timeout: try c.double("timeout"), parameters: parameters,
                                        grid: c.parameters.string("grid"), stageID: c.id)
        })
}

struct ExternalCommandStage: Stage {
    let executable: String
    let arguments: [String]
    let timeout: Double
    let parameters: JSON
    let grid: String?
    let stageID: String

    /// The full path of `program`: as given when it contains '/', relative to the pipeline's folder when
    /// not absolute; otherwise searched on PATH.
    static func resolve(_ program: String, pipelineDirectory: String) throws -> String {
        if program.contains("/") {
            let full = program.hasPrefix("/") ? program : "\(pipelineDirectory)/\(program)"
            guard access(full, X_OK) == 0 else { throw CaseError.invalidParameters(stage: nil, reason: "program not found or not executable: \(full)") }
            return full
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where access("\(folder)/\(program)", X_OK) == 0 {
            return "\(folder)/\(program)"
        }
        throw CaseError.invalidParameters(stage: nil, reason: "program \"\(program)\" not found on PATH")
    }

    /// The ids named by `{nifti:ID}` placeholders in an argument.
    static func niftiReferences(in argument: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(argument)
        while let r = rest.range(of: "{nifti:") {
            guard let close = rest[r.upperBound...].firstIndex(of: "}") else { break }
            ids.append(String(rest[r.upperBound..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return ids
    }

    func run(_ context: inout CaseContext) throws -> StageValue? {
        let workdir = NSTemporaryDirectory() + "voxelflow-\(getpid())-\(context.caseID)-\(stageID)-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        } catch {
            throw CaseError.cannotWrite(path: workdir, reason: "cannot create a working folder: \(FileSystemMessage.describe(error))")
        }
        defer { try? fm.removeItem(atPath: workdir) }

        let output = "\(workdir)/output.nii.gz"
        let paramsFile = "\(workdir)/params.json"
        try AtomicFile.write(Array((parameters.serialized() + "\n").utf8), to: paramsFile)
        var written: [String: String] = [:]
        var expanded: [String] = []
        for argument in arguments {
            var a = argument
            for id in Self.niftiReferences(in: argument) {
                if written[id] == nil {
                    let file = "\(workdir)/\(id).nii.gz"
                    let volume: Volume
                    switch try context.value(id) {
                    case .image(let v): volume = v
                    case .labels(let l): volume = l.volume
                    case .report: throw CaseError.wrongKind(id: id, found: "a report", needed: "an image or label map", hint: "{nifti:\(id)} writes images")
                    }
                    var options = NIfTIWriteOptions()
                    options.compressionLevel = 1
                    try NIfTI.write(volume, to: file, options: options)
                    written[id] = file
                }
                a = a.replacingOccurrences(of: "{nifti:\(id)}", with: written[id] ?? "")
            }
            a = a.replacingOccurrences(of: "{output}", with: output)
                .replacingOccurrences(of: "{params}", with: paramsFile)
                .replacingOccurrences(of: "{workdir}", with: workdir)
                .replacingOccurrences(of: "{case}", with: context.caseID)
            expanded.append(a)
        }

        let result = try ChildProcess.run(executable, arguments: expanded, workdir: workdir, timeout: timeout)
        let name = (executable as NSString).lastPathComponent
        switch result.ending {
        case .exited(0): break
        case .exited(let status):
            throw CaseError.programFailed(program: name, reason: "exited with status \(status)\(Self.tail(result.stderr))")
        case .signalled(let signal):
            throw CaseError.programFailed(program: name, reason: "was killed by signal \(signal)\(Self.tail(result.stderr))")
        case .timedOut:
            throw CaseError.programFailed(program: name, reason: "did not finish within \(JSON.number(timeout).serialized()) s and was killed\(Self.tail(result.stderr))")
        }
        guard fm.fileExists(atPath: output) else {
            throw CaseError.programFailed(program: name, reason: "finished but wrote no label map at {output}\(Self.tail(result.stderr))")
        }
        let image: NIfTIImage
        do {
            image = try NIfTI.read(output)
        } catch {
            throw CaseError.programFailed(program: name, reason: "wrote an unreadable label map: \(error)")
        }
        let labels = try LabelConversion.labelMap(from: image.volume)
        if let grid {
            let target = try context.geometry(grid)
            let a = target.affine.rows.joined(), b = labels.geometry.affine.rows.joined()
            guard target.size == labels.geometry.size, zip(a, b).allSatisfy({ abs($0 - $1) <= 1e-4 }) else {
                throw CaseError.programFailed(program: name, reason: "wrote a label map of size \(labels.geometry.size) that is not on the grid of \"\(grid)\" (size \(target.size))")
            }
        }
        return .labels(labels)
    }

    /// The last lines of the program's standard error, for error messages.
    static func tail(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true).suffix(10)
        return lines.isEmpty ? "" : "; its last error output:\n" + lines.joined(separator: "\n")
    }
}
