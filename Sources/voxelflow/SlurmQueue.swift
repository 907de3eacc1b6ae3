import Foundation
import VoxelPipeline

/// What Slurm's queue says about the jobs `voxelflow submit` recorded for an output folder.
enum SlurmQueue {
    /// The shards (array task ids) of the folder's recorded jobs that `squeue` lists as pending or running;
    /// empty when nothing was submitted, nil when `squeue` cannot be run.
    static func queuedShards(output: String, squeue: String = "squeue") -> Set<Int>? {
        let jobs = SlurmSubmission.read(output: output).map(\.job)
        guard !jobs.isEmpty else { return [] }
        var shards = Set<Int>()
        for job in Set(jobs) {
            // -r lists every array task as JOB_TASK; a job Slurm no longer knows is an error, not a failure here.
            let r = runProgram(squeue, ["-h", "-r", "-o", "%i", "-j", job])
            if r.status == -1 { return nil }
            guard r.status == 0 else { continue }
            for line in r.stdout.split(separator: "\n") {
                let parts = line.trimmingCharacters(in: .whitespaces).split(separator: "_")
                if parts.count == 2, String(parts[0]) == job, let task = Int(parts[1]) { shards.insert(task) }
            }
        }
        return shards
    }
}

/// Runs a program (a name on PATH or a path) and returns its exit status and output; status -1 when it
/// cannot be started.
func runProgram(_ program: String, _ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { return (-1, "", "\(error)") }
    // Both pipes are drained at once so that neither can fill and stall the program.
    let errData = ErrorCollector()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    // env exits 127 when the program is not found.
    let status = process.terminationStatus == 127 ? -1 : process.terminationStatus
    return (status, String(decoding: o, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

private final class ErrorCollector: @unchecked Sendable {
    var data = Data()
}
