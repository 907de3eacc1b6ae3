import ArgumentParser
import Foundation
import VoxelCore
import VoxelIO
import VoxelMetrics
import VoxelNN
import VoxelPipeline
import VoxelNet

/// Exit codes shared by every command (also listed in the README).
enum ExitCodes {
    /// The input could not be read or is not a valid image.
    static let badInput: Int32 = 2
    /// The output could not be written.
    static let cannotWrite: Int32 = 3
    /// `run`, `evaluate`, `deidentify`: some cases (files) failed; the others completed.
    static let casesFailed: Int32 = 4
    /// `submit`: the scheduler (sbatch) refused the job.
    static let schedulerRefused: Int32 = 5
    /// `run`, `train`: stopped by SIGINT or SIGTERM; finished cases (a checkpoint) are kept, `--resume` continues.
    static let interrupted: Int32 = 130

    /// Every exit code with its meaning: the one table that `--help`, the README and the docs show
    /// (a test checks that the README's table is this one).
    static let table: [(code: Int32, meaning: String)] = [
        (0, "success"),
        (1, "unexpected internal error"),
        (badInput, "bad input: the file, pipeline or archive is missing, unreadable, malformed or unsupported, or holds no case"),
        (cannotWrite, "the output cannot be written: it exists (without --force), it is one of the inputs, or the output folder is not a VoxelFlow run"),
        (casesFailed, "run, evaluate, deidentify: one or more cases (deidentify: files) failed (the others completed; run lists them in the manifest, evaluate and deidentify on standard error)"),
        (schedulerRefused, "submit: the scheduler refused the job (sbatch's message is shown)"),
        (64, "wrong command-line usage"),
        (interrupted, "run, train: interrupted by SIGINT or SIGTERM (finished cases or the last checkpoint kept; continue with --resume)"),
    ]

    static let help = "EXIT CODES\n" + table.map { row in
        wrapped(row.meaning, width: 72).enumerated().map { n, line in
            (n == 0 ? "  " + String(row.code).padding(toLength: 4, withPad: " ", startingAt: 0) : "      ") + line
        }.joined(separator: "\n")
    }.joined(separator: "\n")

    /// `text` broken into lines of at most `width` characters at spaces.
    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if !current.isEmpty && current.count + 1 + word.count > width {
                lines.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// The same table for `run --help`.
    static var runHelp: String { help }

    /// The table as Markdown (the README's copy).
    static let markdown = "| code | meaning |\n| --- | --- |\n" + table.map { "| \($0.code) | \($0.meaning) |" }.joined(separator: "\n")

    /// Prints the error on standard error and maps it to an exit code by its type (never by its text).
    static func fail(_ error: any Error) -> ExitCode {
        printError("voxelflow: error: \(error)")
        switch error {
        case let e as NIfTIError: return ExitCode(e.isOutputError ? cannotWrite : badInput)
        case is OutputError, is PullError: return ExitCode(cannotWrite)
        case let e as RunError: return ExitCode(e.isOutputProblem ? cannotWrite : badInput)
        case is ListenerError, is HTTPError, is DIMSEError, is DICOMwebError: return ExitCode(badInput)
        case let e as DeidentificationError:
            if case .invalidOutput = e { return ExitCode(cannotWrite) }
            return ExitCode(badInput)
        case let e as FileIOError: return ExitCode(e.operation == .write || e.operation == .rename ? cannotWrite : badInput)
        case is InputError, is NNError, is DICOMError, is DICOMSeriesError, is DICOMSeriesChoice.Problem, is LabelTableError, is VolumeError,
             is EvaluationInputError, is MetricsError: return ExitCode(badInput)
        default: return ExitCode(1)
        }
    }
}

/// An input the CLI cannot use, with the reason.
struct InputError: Error, CustomStringConvertible {
    let description: String
}

/// An output the CLI refuses to write (it exists, or it is one of the inputs), with the reason.
struct OutputError: Error, CustomStringConvertible {
    let description: String
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleOutput.writeStderr(string)
    }
}

/// The rule every command that writes a file follows: never over one of its inputs (the same file through
/// a link, `./` or either half of a `.hdr`/`.img` pair), and over an existing file only with `--force`.
enum OutputGuard {
    /// Checks the files `outputs` (what writing `name` creates) against `inputs`.
    /// - Throws: `OutputError` (exit code 3) naming the file.
    static func check(_ outputs: [String], name: String, inputs: [String], force: Bool) throws {
        let inputIdentities = Set(inputs.compactMap { FileIdentity(path: $0) })
        for o in outputs {
            if let id = FileIdentity(path: o), inputIdentities.contains(id) {
                throw OutputError(description: "\(name): would overwrite the input \(o == name ? "" : "(\(o)) ")it is made from; choose another output name")
            }
        }
        if !force, let existing = outputs.first(where: { FileIdentity(path: $0) != nil }) {
            throw OutputError(description: "\(existing): already exists; use --force to replace it")
        }
    }
}
