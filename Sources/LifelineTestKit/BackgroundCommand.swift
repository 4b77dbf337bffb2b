import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `lifeline` command running in the background. Its stdout and stderr are read as they
/// come, so a chatty process never blocks on a full pipe, and tests can wait for lines.
public final class BackgroundCommand: @unchecked Sendable {
    public let process: Process
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var linesTaken = 0
    private let drained = DispatchGroup()

    init(_ process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        drain(stdout.fileHandleForReading) { [self] data in lock.withLock { stdoutData += data } }
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
        var line: String?
        try await waitUntil("a line of output", timeout: timeout) {
            let lines = lines
            line = lock.withLock {
                guard linesTaken < lines.count else { return nil }
                linesTaken += 1
                return lines[linesTaken - 1]
            }
            return line != nil
        }
        return line!
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and its output to be read, up to a deadline; returns
    /// its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        try await waitUntil("process \(processIdentifier) to exit", timeout: timeout) { !process.isRunning }
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
