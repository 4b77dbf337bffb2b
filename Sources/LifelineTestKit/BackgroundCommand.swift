import CLifelineSystem
import Foundation
import LifelineQueue

#if canImport(Glibc)
import Glibc
#endif

/// A program running in the background (a `lifeline` command, mostly). Its stdout and stderr
/// are read as they come, so a chatty process never blocks on a full pipe, and tests can wait
/// for lines. When each line arrived and when the process exited are noted on threads of their
/// own, so a busy test process does not skew the times a test measures.
public final class BackgroundCommand: @unchecked Sendable {
    public let processIdentifier: Int32
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var linesTaken = 0
    private var arrivals: [ContinuousClock.Instant] = []
    private var exit: (at: ContinuousClock.Instant, status: Int32)?
    private let drained = DispatchGroup()
    /// Set once the process exited and its output is read; then the waiters are resumed.
    private var ended = false
    private var endWaiters: [CheckedContinuation<Void, Never>] = []

    /// Starts `program` (a path) with `arguments` and exactly `environment`, in `directory`,
    /// reading the file `input` on its standard input (nothing when nil).
    public init(_ program: String, _ arguments: [String], environment: [String: String], directory: String? = nil, input: String? = nil) throws {
        let stdin = try input.map { path in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SpawnError(program: program, code: errno) }
            return fd
        }
        defer { if let stdin { close(stdin) } }
        let stdout = try Self.pipe(), stderr = try Self.pipe()
        var pid: pid_t = 0
        let spawned = ChildProcess.withCArrays(argv: [program] + arguments, environment: environment) { argv, envp in
            lifeline_spawn(program, argv, envp, directory, stdin ?? -1, stdout.write, stderr.write, &pid)
        }
        close(stdout.write)
        close(stderr.write)
        guard spawned == 0 else {
            close(stdout.read)
            close(stderr.read)
            throw SpawnError(program: program, code: spawned)
        }
        processIdentifier = pid
        drain(stdout.read) { [self] data in
            let now = ContinuousClock.now
            lock.withLock {
                stdoutData += data
                arrivals += Array(repeating: now, count: data.count { $0 == 0x0A })
            }
        }
        drain(stderr.read) { [self] data in lock.withLock { stderrData += data } }
        // Once both drains have begun: the end waits for them.
        Thread { [self, pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            lock.withLock { exit = (.now, status) }
            drained.wait()
            let waiters = lock.withLock {
                ended = true
                defer { endWaiters = [] }
                return endWaiters
            }
            for waiter in waiters { waiter.resume() }
        }.start()
    }

    /// Runs `program` to its end, reading its output, without holding a thread meanwhile.
    public static func run(_ program: String, _ arguments: [String], environment: [String: String]) async throws -> BackgroundCommand {
        let command = try BackgroundCommand(program, arguments, environment: environment)
        await command.ended()
        return command
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard lifeline_pipe_cloexec(&fds) == 0 else { throw SpawnError(program: "a pipe", code: errno) }
        return (fds[0], fds[1])
    }

    /// Reads `fd` to its end on a thread of its own, then closes it.
    private func drain(_ fd: Int32, append: @escaping @Sendable (Data) -> Void) {
        drained.enter()
        let group = drained
        Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                append(Data(buffer[..<count]))
            }
            close(fd)
            group.leave()
        }.start()
    }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { lock.withLock { exit == nil } }

    /// Its exit code, or the signal that ended it; 0 while it runs.
    public var terminationStatus: Int32 {
        guard let status = lock.withLock({ exit?.status }) else { return 0 }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }

    /// What was written to stdout so far.
    public var stdout: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }

    /// Every whole line written to stdout so far.
    public var lines: [String] {
        let text = stdout
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// What was written to stderr so far.
    public var stderr: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// The next stdout line not returned before, waiting for it up to `timeout`.
    public func nextLine(timeout: Duration = .seconds(10)) async throws -> String {
        try await nextTimedLine(timeout: timeout).line
    }

    /// The next stdout line not returned before, with when it arrived.
    public func nextTimedLine(timeout: Duration = .seconds(10)) async throws -> (line: String, arrived: ContinuousClock.Instant) {
        var next: (String, ContinuousClock.Instant)?
        try await waitUntil("a line of output", timeout: timeout) {
            let lines = lines
            next = lock.withLock {
                guard linesTaken < lines.count, linesTaken < arrivals.count else { return nil }
                linesTaken += 1
                return (lines[linesTaken - 1], arrivals[linesTaken - 1])
            }
            return next != nil
        }
        return next!
    }

    /// When the process exited, once it has.
    public var exitedAt: ContinuousClock.Instant? { lock.withLock { exit?.at } }

    /// Sends `signal` while the process runs; after its end, its number may name another one.
    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(processIdentifier, signal)
    }

    /// Waits for the process to exit and its output to be read, up to a deadline; returns
    /// its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        // Its exit noted too, which the watching thread does a moment after the end.
        try await waitUntil("process \(processIdentifier) to exit", timeout: timeout) { exitedAt != nil }
        try await waitUntil("the output of process \(processIdentifier)", timeout: .seconds(5)) { isDrained }
        return terminationStatus
    }

    /// Whether stdout and stderr have both reached their end.
    var isDrained: Bool { drained.wait(timeout: .now()) == .success }

    /// Returns once the process exited and its output is read to its end, without holding a
    /// thread meanwhile: the test process's few threads stay free for the work under test.
    func ended() async {
        await withCheckedContinuation { continuation in
            let done = lock.withLock {
                if !ended { endWaiters.append(continuation) }
                return ended
            }
            if done { continuation.resume() }
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var program: String
    public var code: Int32
    public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
}
