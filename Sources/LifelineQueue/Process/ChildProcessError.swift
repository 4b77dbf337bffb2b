import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program that could not be started, said the way its operator would fix it.
public struct ChildProcessError: Error, CustomStringConvertible {
    public enum Stage: Sendable {
        /// Creating its pipes or processes.
        case spawn
        /// Changing to its working directory.
        case directory
        /// Loading the program.
        case exec
    }

    public var program: String
    public var directory: String?
    public var stage: Stage
    public var errno: Int32

    public init(program: String, directory: String? = nil, stage: Stage, errno: Int32) {
        self.program = program
        self.directory = directory
        self.stage = stage
        self.errno = errno
    }

    /// Whether running it again cannot help: the program or directory is missing or wrong.
    /// Resource shortages (no memory, too many processes or files) may pass.
    public var isPermanent: Bool {
        switch stage {
        case .spawn: false
        case .directory: [ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG].contains(errno)
        case .exec: [ENOENT, ENOTDIR, EACCES, ENOEXEC, E2BIG, ELOOP, ENAMETOOLONG, EISDIR].contains(errno)
        }
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        switch (stage, errno) {
        case (.directory, ENOENT): return "cwd '\(directory ?? "")' does not exist"
        case (.directory, ENOTDIR): return "cwd '\(directory ?? "")' is not a directory"
        case (.directory, _): return "cannot enter cwd '\(directory ?? "")': \(reason)"
        case (.exec, ENOENT) where program.contains("/") && Self.exists(program, in: directory):
            return "program '\(program)' names an interpreter that does not exist (its #! line)"
        case (.exec, ENOENT) where program.contains("/"): return "program '\(program)' does not exist"
        case (.exec, ENOENT): return "program '\(program)' not found in PATH"
        case (.exec, EACCES) where program.contains("/") && Self.isDirectory(program, in: directory):
            return "program '\(program)' is a directory"
        case (.exec, EACCES) where program.contains("/") && Self.isExecutable(program, in: directory):
            return "program '\(program)' names an interpreter that is not executable (its #! line)"
        case (.exec, EACCES): return "program '\(program)' is not executable (permission denied)"
        case (.exec, ENOEXEC): return "program '\(program)' is not in an executable format"
        case (.exec, _): return "cannot run '\(program)': \(reason)"
        case (.spawn, _): return "cannot start '\(program)': \(reason)"
        }
    }

    /// Whether the file a path names exists, a relative path taken from `directory`: the
    /// kernel says ENOENT for a script whose interpreter is missing too.
    private static func exists(_ path: String, in directory: String?) -> Bool {
        FileManager.default.fileExists(atPath: full(path, in: directory))
    }

    /// The kernel says EACCES for a directory, as for a file without its execute bit.
    private static func isDirectory(_ path: String, in directory: String?) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: full(path, in: directory), isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The kernel says EACCES for a script whose interpreter cannot be run, as for the script.
    private static func isExecutable(_ path: String, in directory: String?) -> Bool {
        access(full(path, in: directory), X_OK) == 0
    }

    private static func full(_ path: String, in directory: String?) -> String {
        path.hasPrefix("/") || directory == nil ? path : directory! + "/" + path
    }
}
