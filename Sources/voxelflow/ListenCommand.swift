import ArgumentParser
import Foundation
import PACSPlugin
import VoxelCatalog
import VoxelPipeline

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive series by DICOM C-STORE and run a pipeline on each one when it is complete.",
        discussion: """
        A DICOM storage node (C-ECHO, and C-STORE of the 120 storage SOP classes of DCMTK's common list — \
        CT, MR, PET, NM, US, XA, CR/DX/MG, SC, SEG, RT, SR, enhanced objects — uncompressed and in the usual \
        compressed transfer syntaxes, stored exactly as received). A series counts as complete when no \
        instance of it has arrived for --quiet-seconds; it then moves from OUT/receiving/ to OUT/archive/ \
        and the pipeline runs over the archive with --resume semantics (cases done before are skipped), \
        writing OUT/results/ as `voxelflow run` does (manifest, cases, run.json). Instances of a series that \
        arrive after it was filed join it once quiet, and its case runs again on the whole series (its \
        results and manifest line are replaced; OUT/late/ marks such series until their case has run). To send \
        results back, end the pipeline with a push-dicomweb or push-dimse stage (a case run again pushes its \
        new objects).

        Every received instance is renamed into place only when complete, and the queue is the folders \
        themselves, so after a crash, a reboot or kill -9 a restart with the same OUT loses nothing: series \
        still receiving are filed once quiet, and archived series without results are run. Instances that \
        are not DICOM or carry unusable UIDs go to OUT/receiving/rejected/ with the reason logged.

        The node listens on every interface of the machine (DCMTK has no address option): put it behind a \
        firewall or in a network namespace. SIGINT or SIGTERM stops it after the pipeline run in progress.
        """
    )

    @Option(name: .long, help: "The pipeline to run on each complete series.")
    var pipeline: String

    @Option(name: .shortAndLong, help: "The node's folder (receiving/, archive/, results/).")
    var output: String

    @Option(name: .long, help: "The AE title this node answers to (default VOXELFLOW).")
    var aeTitle = "VOXELFLOW"

    @Option(name: .long, help: "The TCP port (default 11112).")
    var port: Int = 11112

    @Option(name: .long, help: "Seconds without a new instance after which a series is complete (default 10).")
    var quietSeconds = 10.0

    @Option(name: .shortAndLong, help: "Cases processed at the same time (default: one per core, at most one per 3 GiB of memory).")
    var jobs: Int?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1–65535") }
        guard !aeTitle.isEmpty, aeTitle.count <= 16, aeTitle.allSatisfy({ $0.isASCII && $0 != "\\" && !$0.isNewline }) else {
            throw ValidationError("--ae-title must be 1–16 ASCII characters without backslashes")
        }
        guard quietSeconds >= 0.1, quietSeconds <= 86_400 else { throw ValidationError("--quiet-seconds must be 0.1–86400") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let spec = try PipelineLoading.loadInference(pipeline, whatInstead: "listen runs inference pipelines")
        var options = ListeningNode.Options(output: output)
        options.aeTitle = aeTitle
        options.port = UInt16(port)
        options.quietSeconds = quietSeconds
        if let jobs { options.jobs = jobs }
        let node = ListeningNode(spec: spec, registry: StageCatalog.registry, options: options) { line in
            let stamp = ISO8601DateFormatter().string(from: Date())
            FileHandleOutput.writeStdoutLine("\(stamp) \(line)")
        }
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { node.stop() }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try node.run()
        } catch {
            throw ExitCodes.fail(error)
        }
    }
}
