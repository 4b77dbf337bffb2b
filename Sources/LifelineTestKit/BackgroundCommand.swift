import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `lifeline` command running in the background. Its stdout and stderr are read as they
/// come, so a chatty process never blocks on a full pipe, and tests can wait for lines. When
/// each line arrived and when the process exited are noted on threads of their own, so a busy
/// test process does not skew the times a test measures.
public final class BackgroundCommand: @unchecked Sendable {
    public let process: Process
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var linesTaken = 0
    private var arrivals: [ContinuousClock.Instant] = []
    private var exit: ContinuousClock.Instant?
    private let drained = DispatchGroup()

    /// Call once the process runs.
    init(_ process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        // Foundation reaps the process itself: watch for its end rather than wait for it.
        Thread { [self] in
            while process.isRunning { usleep(2000) }
            lock.withLock { exit = .now }
        }.start()
        drain(stdout.fileHandleForReading) { [self] data in
            let now = ContinuousClock.now
            lock.withLock {
                stdoutData += data
                arrivals += Array(repeating: now, count: data.count { $0 == 0x0A })
            }
        }
        drain(stderr.fileHandleForReading) { [self] data in lock.withLock { stderrData += data } }
    }

    /// Reads `handle` to its end on a thread of its own.
    private func drain(_ handle: FileHandle, append: @escaping @Sendable (Data) -> Void) {
        drained.enter()
        let group = drained
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                append(data)
            }
            group.leave()
        }.start()
    }

    public var processIdentifier: Int32 { process.processIdentifier }

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
    public var exitedAt: ContinuousClock.Instant? { lock.withLock { exit } }

    /// Sends `signal` while the process runs; after its end, its number may name another one.
    public func signal(_ signal: Int32) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and its output to be read, up to a deadline; returns
    /// its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        // Its exit noted too, which the watching thread does a moment after the end.
        try await waitUntil("process \(processIdentifier) to exit", timeout: timeout) { exitedAt != nil }
        try await waitUntil("the output of process \(processIdentifier)", timeout: .seconds(5)) { isDrained }
        return process.terminationStatus
    }

    /// Whether stdout and stderr have both reached their end.
    var isDrained: Bool { drained.wait(timeout: .now()) == .success }

    /// Blocks until the output is read to its end (after the process exited).
    func waitDrained() {
        drained.wait()
    }
}
