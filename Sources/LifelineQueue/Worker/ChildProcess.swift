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
        public var termination: ProcessSpawner.Termination
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
        let stdout = try Self.pipe()
        let stderr = try Self.pipe()
        let pid: pid_t
        do {
            pid = try await ProcessSpawner.spawn(
                argv: argv, environment: environment, directory: directory, stdoutFD: stdout.write,
                stderrFD: stderr.write, deathSignal: SIGKILL
            )
        } catch {
            [stdout.read, stdout.write, stderr.read, stderr.write].forEach { _ = close($0) }
            throw error
        }
        close(stdout.write)
        close(stderr.write)
        async let out = Self.readTail(stdout.read)
        async let err = Self.readTail(stderr.read)
        let termination = await withTaskCancellationHandler {
            await ProcessSpawner.wait(pid)
        } onCancel: {
            kill(-pid, SIGKILL)
        }
        // Whatever the program left running in its group goes with it.
        kill(-pid, SIGKILL)
        let exit = Exit(termination: termination, stdoutTail: await out, stderrTail: await err)
        try Task.checkCancellation()
        return exit
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard lifeline_pipe_cloexec(&fds) == 0 else { throw ChildProcessError(program: "pipe", errno: errno) }
        return (fds[0], fds[1])
    }

    /// Reads to the end of the pipe, keeping the last `tailBytes`.
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
