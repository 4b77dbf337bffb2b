import CLifelineSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program run without a shell. It runs in a process group of its own, so a timeout or
/// cancellation kills it with everything it started, and it dies with its worker
/// (parent-death signal), so no orphan keeps working.
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
    /// Written to the program's stdin, which is then closed; `nil` gives it /dev/null.
    public var input: Data?
    /// Called with each line the program writes to stdout, as it writes it.
    public var onOutputLine: (@Sendable (String) -> Void)?

    public init(
        argv: [String], environment: [String: String], directory: String?, input: Data? = nil,
        onOutputLine: (@Sendable (String) -> Void)? = nil
    ) {
        self.argv = argv
        self.environment = environment
        self.directory = directory
        self.input = input
        self.onOutputLine = onOutputLine
    }

    /// Runs the program to its end. Cancelling the calling task kills its process group.
    public func run() async throws -> Exit {
        let stdin = input == nil ? nil : try Self.pipe()
        let stdout = try Self.pipe()
        let stderr = try Self.pipe()
        let parentEnds = [stdin?.write, stdout.read, stderr.read].compactMap { $0 }
        let childEnds = [stdin?.read, stdout.write, stderr.write].compactMap { $0 }
        let pid: pid_t
        do {
            pid = try await ProcessSpawner.spawn(
                argv: argv, environment: environment, directory: directory, stdinFD: stdin?.read ?? -1,
                stdoutFD: stdout.write, stderrFD: stderr.write, deathSignal: SIGKILL
            )
        } catch {
            (parentEnds + childEnds).forEach { _ = close($0) }
            throw error
        }
        childEnds.forEach { _ = close($0) }
        if let stdin, let input { Self.feed(input, to: stdin.write) }
        async let out = Self.read(stdout.read, onLine: onOutputLine)
        async let err = Self.read(stderr.read, onLine: nil)
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

    /// Writes the input on a dispatch thread (the program may read it slowly), then closes it.
    private static func feed(_ input: Data, to fd: Int32) {
        DispatchQueue.global().async {
            input.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(fd)
        }
    }

    /// Reads to the end of the pipe, passing on whole lines and keeping the last `tailBytes`.
    private static func read(_ fd: Int32, onLine: (@Sendable (String) -> Void)?) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var tail = [UInt8]()
                var line = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 16384)
                while true {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    let bytes = buffer[0..<n]
                    tail.append(contentsOf: bytes)
                    if tail.count > 2 * tailBytes { tail.removeFirst(tail.count - tailBytes) }
                    if let onLine {
                        for byte in bytes {
                            if byte == 0x0A {
                                onLine(String(decoding: line, as: UTF8.self))
                                line.removeAll(keepingCapacity: true)
                            } else if line.count < 1 << 16 {
                                line.append(byte)
                            }
                        }
                    }
                }
                close(fd)
                continuation.resume(returning: String(decoding: tail.suffix(tailBytes), as: UTF8.self))
            }
        }
    }
}
