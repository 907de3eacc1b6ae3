import Foundation

/// Plain words for errors of Foundation's file operations.
///
/// On Linux, `FileManager` errors read "The operation could not be completed" (or "NSCocoaErrorDomain error
/// 512") in `localizedDescription`; the useful part is the system's own reason, kept as the underlying POSIX
/// error. Every message of VoxelFlow about a file operation goes through here.
public enum FileSystemMessage {
    /// The system's reason for `error` ("No such file or directory", "Permission denied", …), or the error's
    /// own description when it carries none.
    public static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or folder"
            case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
            case NSFileWriteOutOfSpaceError: return "no space left on the device"
            case NSFileWriteFileExistsError: return "a file of that name exists already"
            default: return "file operation failed (code \(ns.code))"
            }
        }
        return "\(error)"
    }
}
