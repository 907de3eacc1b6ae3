import Foundation
import VoxelPipeline

/// Runs a program in its own process group with a timeout; its standard output and error go to files in
/// the working folder (no pipes, so a chatty program can never block). On timeout the whole group gets
/// SIGTERM, then SIGKILL two seconds later, so a wrapper script's children die with it.
enum ChildProcess {
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    struct Result {
        var ending: Ending
        var stderr: String
    }

    static func run(_ executable: String, arguments: [String], workdir: String, timeout: Double) throws -> Result {
        let stdoutPath = "\(workdir)/stdout.txt", stderrPath = "\(workdir)/stderr.txt"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let status = argv.withUnsafeBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return EINVAL }
            return posix_spawn(&pid, executable, &actions, &attributes, UnsafeMutablePointer(mutating: base), environ)
        }
        guard status == 0 else { throw CaseError.programFailed(program: executable, reason: "cannot be started: \(String(cString: strerror(status)))") }

        let deadline = Date().addingTimeInterval(timeout)
        var waitStatus: Int32 = 0
        var ending: Ending?
        var delay: useconds_t = 1_000
        while ending == nil {
            let r = waitpid(pid, &waitStatus, WNOHANG)
            if r == pid {
                ending = decode(waitStatus)
            } else if r < 0 && errno != EINTR {
                throw CaseError.programFailed(program: executable, reason: "was lost track of: \(String(cString: strerror(errno)))")
            } else if Date() >= deadline {
                kill(-pid, SIGTERM)
                let grace = Date().addingTimeInterval(2)
                while waitpid(pid, &waitStatus, WNOHANG) == 0 && Date() < grace { usleep(20_000) }
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &waitStatus, 0)
                ending = .timedOut
            } else {
                usleep(delay)
                delay = min(delay * 2, 50_000)
            }
        }
        let stderrText = FileManager.default.contents(atPath: stderrPath).map { String(decoding: $0.suffix(16_384), as: UTF8.self) } ?? ""
        return Result(ending: ending ?? .timedOut, stderr: stderrText)
    }

    private static func decode(_ status: Int32) -> Ending {
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }
}
