import CLifelineSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program run without a shell for an `exec` job. It runs in a process group of its own,
/// so a timeout or cancellation kills it with everything it started, and it dies with its
/// worker (parent-death signal), so no orphan keeps working.
public struct ChildProcess: Sendable {
    public struct Exit: Sendable, Hashable {
        /// The exit status, or `nil` when a signal ended the program.
        public var status: Int32?
        public var signal: Int32?
        public var stdoutTail: String
        public var stderrTail: String
    }

    public static let tailBytes = 4096

    public var argv: [String]
    public var environment: [String: String]
    public var directory: String?

    public init(argv: [String], environment: [String: String], directory: String?) {
        self.argv = argv
        self.environment = environment
        self.directory = directory
    }

    /// Runs the program to its end. Cancelling the calling task kills its process group.
    public func run() async throws -> Exit {
        let stdout = try Pipe.make()
        let stderr = try Pipe.make()
        let pid = try await spawn(stdoutFD: stdout.write, stderrFD: stderr.write)
        close(stdout.write)
        close(stderr.write)
        async let out = Self.readTail(stdout.read)
        async let err = Self.readTail(stderr.read)
        let status = await withTaskCancellationHandler {
            await Self.wait(pid)
        } onCancel: {
            kill(-pid, SIGKILL)
        }
        // Whatever the program left behind in its group goes with it.
        kill(-pid, SIGKILL)
        let exit = Exit(
            status: status.exited ? status.code : nil, signal: status.exited ? nil : status.code,
            stdoutTail: await out, stderrTail: await err
        )
        try Task.checkCancellation()
        return exit
    }

    /// Spawns on the main thread: the parent-death signal follows the spawning thread, and
    /// the main thread lives as long as the process.
    @MainActor
    private func spawn(stdoutFD: Int32, stderrFD: Int32) throws -> pid_t {
        let env = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                if let directory {
                    return directory.withCString { lifeline_spawn(argvPointers, envPointers, $0, stdoutFD, stderrFD, &pid) }
                }
                return lifeline_spawn(argvPointers, envPointers, nil, stdoutFD, stderrFD, &pid)
            }
        }
        guard result == 0 else {
            close(stdoutFD)
            close(stderrFD)
            throw ChildProcessError(program: argv.first ?? "", errno: result)
        }
        return pid
    }

    private static func wait(_ pid: pid_t) async -> (exited: Bool, code: Int32) {
        // waitpid blocks, so it runs on a dispatch thread, not on the cooperative pool.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (true, (status >> 8) & 0xff) : (false, signal))
            }
        }
    }

    private static func readTail(_ fd: Int32) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var tail = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 16384)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    tail.append(contentsOf: buffer[0..<n])
                    if tail.count > 2 * tailBytes { tail.removeFirst(tail.count - tailBytes) }
                }
                close(fd)
                continuation.resume(returning: String(decoding: tail.suffix(tailBytes), as: UTF8.self))
            }
        }
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var program: String
    public var errno: Int32

    public var description: String {
        "cannot run '\(program)': \(String(cString: strerror(errno)))"
    }
}

private struct Pipe {
    var read: Int32
    var write: Int32

    static func make() throws -> Pipe {
        var fds: [Int32] = [0, 0]
        guard lifeline_pipe_cloexec(&fds) == 0 else { throw ChildProcessError(program: "pipe", errno: errno) }
        return Pipe(read: fds[0], write: fds[1])
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
