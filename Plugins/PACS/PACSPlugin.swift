import Foundation
import VoxelNet
import VoxelPipeline
import VoxelSupport

/// The PACS plugin: pipeline stages that talk to a PACS over DICOMweb or DIMSE. Built only on
/// VoxelPipeline's and VoxelNet's public API, so the pipeline core never links networking.
public enum PACSPlugin {
    /// Adds the `push-dicomweb` and `push-dimse` stage types.
    public static func register(in registry: inout StageRegistry) {
        registry.register(PushDICOMwebStage.definition)
        registry.register(PushDIMSEStage.definition)
    }
}

/// `push-dimse`: sends DICOM files the case's writer stages wrote to a PACS with DIMSE C-STORE, with the
/// same manifest entries, push record and resume rules as `push-dicomweb`.
struct PushDIMSEStage: Stage {
    static let definition = StageDefinition(
        type: "push-dimse", category: .writer,
        summary: "Send DICOM files this case wrote (SEG, RTSTRUCT, overlay series) to a PACS with DIMSE C-STORE; the answer per instance goes into the manifest.",
        parameters: [
            ParameterSpec("peer", .string, doc: "the PACS as dimse://AE_TITLE@host:port (port 104 when left out)"),
            ParameterSpec("callingAE", .string, default: .string("VOXELFLOW"), doc: "our AE title (1–16 characters; the PACS must accept it)"),
            ParameterSpec("files", .array(of: .string, count: 1...1000), optional: true,
                          doc: "files or folders of this case to send, relative to its folder ({case} allowed); default: every .dcm file the case wrote"),
            ParameterSpec("required", .boolean, default: .bool(true),
                          doc: "fail the case when an instance is not stored (its results are then not kept, and --resume sends it again); false records a warning instead"),
            ParameterSpec("retries", .integer(0...20), default: .int(3), doc: "retries of an association that could not be opened or broke (doubling waits from 1 s)"),
            ParameterSpec("timeout", .integer(1...3600), default: .int(30), doc: "seconds for connecting and for each DIMSE message"),
        ],
        produces: .nothing,
        make: { c in
            do {
                var client = try DIMSEClient(url: try c.string("peer"), callingAETitle: try c.string("callingAE"))
                client.timeout = try c.int("timeout")
                return PushDIMSEStage(push: PushToPACS(id: c.id, type: "push-dimse", destination: client, files: c.parameters.strings("files"),
                                                       required: try c.bool("required"), retries: try c.int("retries")))
            } catch let e as CaseError {
                throw e
            } catch {
                throw CaseError.invalidParameters(stage: c.id, reason: "\(error)")
            }
        })

    let push: PushToPACS<DIMSEClient>

    func run(_ context: inout CaseContext) throws -> StageValue? {
        try push.run(&context)
        return nil
    }
}

/// `push-dicomweb`: sends DICOM files the case's writer stages wrote (SEG, RTSTRUCT, overlay series) to a
/// PACS with STOW-RS. The PACS's answer per instance goes into the case's manifest line (`pushed`) and the
/// run's push record (`OUT/pushed.jsonl`); an instance the record says this PACS stored is not sent again.
struct PushDICOMwebStage: Stage {
    static let definition = StageDefinition(
        type: "push-dicomweb", category: .writer,
        summary: "Send DICOM files this case wrote (SEG, RTSTRUCT, overlay series) to a PACS with DICOMweb STOW-RS; the answer per instance goes into the manifest.",
        parameters: [
            ParameterSpec("url", .string, doc: "the DICOMweb service root, http:// or https:// (no credentials in it)"),
            ParameterSpec("files", .array(of: .string, count: 1...1000), optional: true,
                          doc: "files or folders of this case to send, relative to its folder ({case} allowed); default: every .dcm file the case wrote"),
            ParameterSpec("user", .string, optional: true, doc: "user for HTTP basic authentication; the password from passwordFile or the VOXELFLOW_PACS_PASSWORD environment variable"),
            ParameterSpec("passwordFile", .existingFile, optional: true, doc: "file whose first line is the password"),
            ParameterSpec("tokenFile", .existingFile, optional: true, doc: "file whose first line is a bearer token (else VOXELFLOW_PACS_TOKEN when set)"),
            ParameterSpec("caFile", .existingFile, optional: true, doc: "PEM file of certificate authorities to trust instead of the system's"),
            ParameterSpec("required", .boolean, default: .bool(true),
                          doc: "fail the case when an instance is not stored (its results are then not kept, and --resume sends it again); false records a warning instead"),
            ParameterSpec("retries", .integer(0...20), default: .int(3), doc: "retries of a request that failed in a way that may pass (doubling waits from 1 s)"),
        ],
        produces: .nothing,
        make: { c in
            func file(_ name: String) -> String? {
                c.parameters.string(name).map { $0.hasPrefix("/") ? $0 : "\(c.pipelineDirectory)/\($0)" }
            }
            do {
                var options = HTTPOptions()
                options.caFile = file("caFile")
                let env = ProcessInfo.processInfo.environment
                if let user = c.parameters.string("user") {
                    let password = try file("passwordFile").map { try firstLine($0) } ?? env["VOXELFLOW_PACS_PASSWORD"]
                    guard let password else { throw CaseError.invalidParameters(stage: c.id, reason: "user \(user): give passwordFile or set VOXELFLOW_PACS_PASSWORD") }
                    options.credentials = .basic(user: user, password: password)
                } else if let token = try file("tokenFile").map({ try firstLine($0) }) ?? env["VOXELFLOW_PACS_TOKEN"] {
                    options.credentials = .bearer(token: token)
                }
                let client = try DICOMwebClient(root: try c.string("url"), options: options)
                return PushDICOMwebStage(push: PushToPACS(id: c.id, type: "push-dicomweb", destination: client, files: c.parameters.strings("files"),
                                                          required: try c.bool("required"), retries: try c.int("retries")))
            } catch let e as CaseError {
                throw e
            } catch {
                throw CaseError.invalidParameters(stage: c.id, reason: "\(error)")
            }
        })

    /// The first line of a secret file.
    static func firstLine(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path),
              let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first, !line.isEmpty else {
            throw CaseError.invalidParameters(stage: nil, reason: "\(path): cannot read a secret from the file (empty or unreadable)")
        }
        return String(line)
    }

    let push: PushToPACS<DICOMwebClient>

    func run(_ context: inout CaseContext) throws -> StageValue? {
        try push.run(&context)
        return nil
    }
}

/// What the push stages share: the files of a case to send, the push record, the manifest entry, and the
/// case's failure when an instance is not stored.
struct PushToPACS<Destination: InstanceDestination>: Sendable {
    let id: String
    /// The stage type, as failures name it.
    let type: String
    let destination: Destination
    let files: [String]?
    let required: Bool
    let retries: Int

    func run(_ context: inout CaseContext) throws {
        let fm = FileManager.default
        var paths: [String] = []
        if let files {
            for f in files {
                let full = "\(context.stagingDirectory)/\(context.outputName(f, id: id))"
                var isDirectory: ObjCBool = false
                guard fm.fileExists(atPath: full, isDirectory: &isDirectory) else {
                    throw CaseError.invalidParameters(stage: id, reason: "\(f): this case wrote no such file (the writer stages come first)")
                }
                if isDirectory.boolValue {
                    let inside = (fm.enumerator(atPath: full)?.allObjects as? [String] ?? []).filter { $0.lowercased().hasSuffix(".dcm") }.sorted()
                    paths += inside.map { "\(full)/\($0)" }
                } else {
                    paths.append(full)
                }
            }
        } else {
            paths = context.outputs.filter { $0.lowercased().hasSuffix(".dcm") }.map { "\(context.stagingDirectory)/\($0)" }
        }
        guard !paths.isEmpty else {
            context.warnings.append("\(id): nothing to push (this case wrote no DICOM file)")
            return
        }
        let log: PushLog?
        do {
            log = try context.runFolder.map { try PushLog(path: "\($0)/pushed.jsonl") }
        } catch {
            throw CaseError.cannotWrite(path: "\(context.runFolder ?? "")/pushed.jsonl", reason: "\(error)")
        }
        // Recorded under their final names (the staging folder is temporary): cases/<case>/… in the push
        // record, relative to the case folder in the manifest.
        let relative = paths.map { $0.hasPrefix(context.stagingDirectory + "/") ? String($0.dropFirst(context.stagingDirectory.count + 1)) : $0 }
        var records = InstancePush.run(destination, files: paths, names: relative.map { "cases/\(context.caseID)/\($0)" }, log: log, retries: retries)
        for n in records.indices { records[n].file = relative[n] }
        context.manifestEntries.append(("pushed", .object([
            ("stage", .string(id)),
            ("destination", .string(destination.name)),
            ("instances", .array(records.map { r in
                var m: [(String, JSON)] = [("file", .string(r.file)), ("sopInstanceUID", r.sopInstanceUID.map { .string($0) } ?? .null), ("status", .string(r.status.rawValue))]
                if let reason = r.reason { m.append(("reason", .string(reason))) }
                return .object(m)
            })),
        ])))
        let failed = records.filter { $0.status == .failed }
        for r in records where r.status == .warning { context.warnings.append("\(id): \(r.file) stored with a warning: \(r.reason ?? "")") }
        if !failed.isEmpty {
            let message = "\(failed.count) of \(records.count) instance\(records.count == 1 ? "" : "s") not stored at \(destination.name): " +
                failed.prefix(3).map { "\($0.file): \($0.reason ?? "")" }.joined(separator: "; ")
            if required { throw CaseError.programFailed(program: type, reason: message) }
            context.warnings.append("\(id): \(message)")
        }
    }
}
