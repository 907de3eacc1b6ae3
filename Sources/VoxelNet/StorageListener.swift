import CDCMTKNet
import Foundation
import VoxelIO

/// A DICOM storage SCP (DIMSE C-STORE and C-ECHO, through DCMTK's dcmnet): receives instances from a
/// modality or PACS and files each one, when complete, as `FOLDER/<StudyInstanceUID>/<SeriesInstanceUID>/
/// <SOPInstanceUID>.dcm` (an atomic rename from its temporary name), so a crash never leaves a partial
/// file under a final name. Instances whose UIDs cannot name files, or that do not read as DICOM, are
/// refused to `rejected/` with the reason reported.
public final class StorageListener: @unchecked Sendable {
    /// What happened to one received instance.
    public enum Event: Sendable {
        case filed(path: String, study: String, series: String, sopInstanceUID: String, callingAETitle: String)
        case rejected(path: String, reason: String)
    }

    public let aeTitle: String
    public let port: UInt16
    /// Where instances are filed (`STUDY/SERIES/SOP.dcm`).
    public let folder: String
    /// Where instances arrive under temporary names.
    public let receiving: String
    private let onEvent: @Sendable (Event) -> Void
    private let stopFlag = StopFlag()
    /// Held while an instance is being filed; hold it to move filed series away without a race.
    public let filingLock = NSLock()

    /// - Parameters:
    ///   - folder: filed instances go here; `folder/.receiving` holds instances being received.
    ///   - onEvent: called on the listening thread after each instance.
    public init(aeTitle: String, port: UInt16, folder: String, onEvent: @escaping @Sendable (Event) -> Void) {
        self.aeTitle = aeTitle
        self.port = port
        self.folder = folder
        receiving = "\(folder)/.receiving"
        self.onEvent = onEvent
    }

    /// Listens until `stop()`; instances cut short by an earlier crash (temporary files) are removed first.
    /// - Throws: `ListenerError` when the port cannot be opened or the folders cannot be prepared.
    public func run() throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: receiving, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: receiving) where name.hasPrefix(".recv-") {
                try fm.removeItem(atPath: "\(receiving)/\(name)")
            }
        } catch {
            throw ListenerError(message: "\(folder): cannot prepare the receiving folder: \(error)")
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        var message = [CChar](repeating: 0, count: 512)
        let status: Int32 = aeTitle.withCString { ae in
            receiving.withCString { dir in
                var config = vf_scp_config()
                config.ae_title = ae
                config.port = port
                config.receiving_folder = dir
                config.poll_seconds = 1
                config.dimse_timeout = 60
                config.context = context
                config.received = { path, _, sop, calling, context in
                    guard let context, let path else { return }
                    let me = Unmanaged<StorageListener>.fromOpaque(context).takeUnretainedValue()
                    me.file(String(cString: path), sop: sop.map { String(cString: $0) } ?? "", calling: calling.map { String(cString: $0) } ?? "")
                }
                config.should_stop = { context in
                    guard let context else { return 1 }
                    return Unmanaged<StorageListener>.fromOpaque(context).takeUnretainedValue().stopFlag.isSet ? 1 : 0
                }
                return message.withUnsafeMutableBufferPointer { vf_scp_run(&config, $0.baseAddress, $0.count) }
            }
        }
        if status != 0 {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ListenerError(message: "\(aeTitle) on port \(port): \(text)")
        }
    }

    /// Asks `run()` to return (within about a second, after the association in progress).
    public func stop() { stopFlag.set() }

    /// Files one received instance under its study and series, or rejects it.
    private func file(_ temporary: String, sop: String, calling: String) {
        let fm = FileManager.default
        func reject(_ reason: String) {
            let rejected = "\(folder)/rejected"
            try? fm.createDirectory(atPath: rejected, withIntermediateDirectories: true)
            let target = "\(rejected)/\((temporary as NSString).lastPathComponent.replacingOccurrences(of: ".recv-", with: ""))"
            if rename(temporary, target) != 0 { unlink(temporary) }
            onEvent(.rejected(path: target, reason: reason))
        }
        let header: DICOMHeader
        do {
            header = try DICOMHeader.read(temporary)
        } catch {
            return reject("not readable as DICOM: \(error)")
        }
        guard SeriesPull.isValidUID(header.studyInstanceUID), SeriesPull.isValidUID(header.seriesInstanceUID), SeriesPull.isValidUID(header.sopInstanceUID) else {
            return reject("its Study, Series or SOP Instance UID is not a DICOM UID")
        }
        let directory = "\(folder)/\(header.studyInstanceUID)/\(header.seriesInstanceUID)"
        let path = "\(directory)/\(header.sopInstanceUID).dcm"
        filingLock.lock()
        defer { filingLock.unlock() }
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            return reject("cannot create \(directory): \(error)")
        }
        // A second copy of the same instance replaces the first (a re-send after a timeout).
        guard rename(temporary, path) == 0 else {
            return reject("cannot file it as \(path): \(String(cString: strerror(errno)))")
        }
        onEvent(.filed(path: path, study: header.studyInstanceUID, series: header.seriesInstanceUID, sopInstanceUID: header.sopInstanceUID, callingAETitle: calling))
    }
}

/// A listener that cannot run.
public struct ListenerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

private final class StopFlag: @unchecked Sendable {
    private var value = false
    private let lock = NSLock()
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
