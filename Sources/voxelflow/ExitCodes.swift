import ArgumentParser
import VoxelIO

/// Exit codes shared by every command (also listed in the README).
enum ExitCodes {
    /// The input could not be read or is not a valid image.
    static let badInput: Int32 = 2
    /// The output could not be written.
    static let cannotWrite: Int32 = 3
    /// `run`: some cases failed; the others completed.
    static let casesFailed: Int32 = 4

    static let help = """
    EXIT CODES
      0   success
      1   unexpected internal error
      2   bad input: the file is missing, unreadable, malformed or unsupported
      3   the output could not be written
      4   run: one or more cases failed (the others completed)
      64  wrong command-line usage
    """

    /// Prints the error on standard error and maps it to an exit code.
    static func fail(_ error: any Error) -> ExitCode {
        printError("voxelflow: error: \(error)")
        if let e = error as? NIfTIError {
            switch e.kind {
            case .cannotEncode, .io: return e.path.isEmpty ? ExitCode(badInput) : ExitCode(isOutput(e) ? cannotWrite : badInput)
            default: return ExitCode(badInput)
            }
        }
        if error is InputError || error is DICOMError || error is DICOMSeriesError { return ExitCode(badInput) }
        return ExitCode(1)
    }

    private static func isOutput(_ e: NIfTIError) -> Bool {
        if case .cannotEncode = e.kind { return true }
        if case .io(let why) = e.kind { return why.hasPrefix("cannot write") }
        return false
    }
}

/// An input the CLI cannot use, with the reason.
struct InputError: Error, CustomStringConvertible {
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
