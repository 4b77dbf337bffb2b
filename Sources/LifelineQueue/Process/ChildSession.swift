import CLifelineSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the monitor's thread knows of one running child: its reaper's messages, its output
/// and its input. Touched only on that thread.
final class ChildSession: @unchecked Sendable {
    private let child: RunningChild
    private let monitor = ChildMonitor.shared
    private var status: Int32
    private var stdin: (fd: Int32, data: Data, offset: Int)?
    private var outputs: [Int32: Output] = [:]
    private var reaper: pid_t = 0
    private var reaped = false
    /// The program's process id, which is also its group's, once the reaper has started it.
    private var program: pid_t?
    private var statusBytes: [UInt8] = []
    private var started = false
    /// The reaper stopped the program because its hold ran out.
    private var unheld = false
    private var failure: ChildProcessError?
    private var programStatus: Int32?
    /// The reaper has reaped the program: its id, and its group's, may name others now.
    private var programCollected = false
    private var reaperStatus: Int32 = 0
    /// The child's end has been given (``finishIfDone()``).
    private var ended = false

    private struct Output {
        var isStdout: Bool
        var tail: [UInt8] = []
        /// Every byte read, the tail's and those before it.
        var total = 0
        var line: [UInt8] = []
    }

    private var stdoutKept = ChildProcess.KeptOutput([], total: 0)
    private var stderrKept = ChildProcess.KeptOutput([], total: 0)
    private let onOutputLine: (@Sendable (String) -> Void)?

    /// How long output pipes may stay open after the reaper has gone (only a descendant that
    /// escaped a killed reaper can hold them).
    private static let outputGrace: Duration = .seconds(1)

    init(
        child: RunningChild, status: Int32, stdin: (Int32, Data)?, stdout: Int32, stderr: Int32,
        onOutputLine: (@Sendable (String) -> Void)?
    ) {
        self.child = child
        self.status = status
        self.stdin = stdin.map { ($0.0, $0.1, 0) }
        self.onOutputLine = onOutputLine
        outputs[stdout] = Output(isStdout: true)
        outputs[stderr] = Output(isStdout: false)
    }

    /// Starts watching the child's pipes. Monitor thread only.
    func begin(reaper: pid_t) {
        self.reaper = reaper
        for fd in [status] + Array(outputs.keys) + [stdin?.fd].compactMap({ $0 }) {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        monitor.watch(status, events: Int16(POLLIN)) { [self] _ in readStatus() }
        for fd in outputs.keys {
            monitor.watch(fd, events: Int16(POLLIN)) { [self] _ in readOutput(fd) }
        }
        if let stdin {
            if stdin.data.isEmpty { closeInput() } else { monitor.watch(stdin.fd, events: Int16(POLLOUT)) { [self] _ in writeInput() } }
        }
    }

    private func readStatus() {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(status, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EINTR || errno == EAGAIN) { return }
        guard count > 0 else {
            monitor.unwatch(status)
            close(status)
            status = -1
            reap()
            return
        }
        statusBytes += buffer[0..<count]
        let size = MemoryLayout<lifeline_reaper_message>.size
        while statusBytes.count >= size {
            let message = statusBytes.withUnsafeBytes { $0.loadUnaligned(as: lifeline_reaper_message.self) }
            statusBytes.removeFirst(size)
            switch Int(message.kind) {
            case Int(LIFELINE_REAPER_STARTED):
                started = true
                program = pid_t(truncatingIfNeeded: message.value)
            case Int(LIFELINE_REAPER_CWD_FAILED):
                failure = ChildProcessError(program: child.program, directory: child.directory, stage: .directory, errno: message.value)
            case Int(LIFELINE_REAPER_EXEC_FAILED):
                failure = ChildProcessError(program: child.program, directory: child.directory, stage: .exec, errno: message.value)
            case Int(LIFELINE_REAPER_EXITED): programStatus = message.value
            case Int(LIFELINE_REAPER_UNHELD): unheld = true
            case Int(LIFELINE_REAPER_COLLECTED): programCollected = true
            default: break
            }
        }
        // Everything the program started is gone: its end need not wait for the reaper's own
        // exit, which tears down a copy of this process's memory (a burst of timeouts queues
        // hundreds of them).
        if programStatus != nil { finishIfDone() }
    }

    /// Kills the reaper after `delay`, unless it has been collected by then: for a reaper that
    /// does not act on its closed control pipe (stopped). On the monitor's thread, which
    /// collects it, so the process id is still the reaper's.
    func killReaper(after delay: Duration) {
        monitor.after(delay) { [self] in killReaperNow() }
    }

    private func killReaperNow() {
        guard reaper > 0, !reaped else { return }
        // The program's group first: the program dies with its reaper, the rest of its group
        // would not. Only while the reaper has not collected the program, whose id, and its
        // group's, then name nothing else (once collected, the reaper had killed the group).
        if let program, Self.isChild(program, of: reaper) { Glibc.kill(-program, SIGKILL) }
        Glibc.kill(reaper, SIGKILL)
    }

    /// Whether `pid` is a child of `parent` not yet collected (running, or a zombie).
    private static func isChild(_ pid: pid_t, of parent: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let name = stat.lastIndex(of: ")") else {
            return false
        }
        // After the name: the state, then the parent's id.
        let fields = stat[stat.index(after: name)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == parent
    }

    /// The reaper closes its status pipe only by exiting: collect it, retrying until the
    /// exit has gone through.
    private func reap() {
        var waitStatus: Int32 = 0
        let pid = waitpid(reaper, &waitStatus, WNOHANG)
        if pid == 0 || (pid < 0 && errno == EINTR) {
            monitor.after(.milliseconds(1)) { [self] in reap() }
            return
        }
        reaped = true
        reaperStatus = waitStatus
        // A reaper that ended before it reaped its program was killed (SIGKILL from outside,
        // the OOM killer): the program died with it, but the rest of its group did not, and
        // would run on beside the job's next attempt. The reaper's sentinel kills the group as
        // the reaper dies; this kill is for a sentinel that could not (stopped with the group,
        // killed with the reaper, or not yet in the group). Its id cannot
        // name another group while any of its members lives; with none left, only a new group
        // given the same id in the milliseconds since could be hit, which takes the kernel's
        // whole range of process ids started in between. Descendants that left the group
        // (setsid) went with the reaper's knowledge of them.
        if !programCollected, let program { Glibc.kill(-program, SIGKILL) }
        if !outputs.isEmpty {
            monitor.after(Self.outputGrace) { [self] in
                for fd in outputs.keys { closeOutput(fd) }
            }
        }
        finishIfDone()
    }

    private func readOutput(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EINTR || errno == EAGAIN) { return }
        guard count > 0, var output = outputs[fd] else {
            closeOutput(fd)
            return
        }
        let bytes = buffer[0..<count]
        output.tail += bytes
        output.total += count
        if output.tail.count > 2 * ChildProcess.tailBytes { output.tail.removeFirst(output.tail.count - ChildProcess.tailBytes) }
        if output.isStdout, let onOutputLine {
            for byte in bytes {
                if byte == 0x0A {
                    onOutputLine(String(decoding: output.line, as: UTF8.self))
                    output.line.removeAll(keepingCapacity: true)
                } else if output.line.count < 1 << 16 {
                    output.line.append(byte)
                }
            }
        }
        outputs[fd] = output
    }

    private func closeOutput(_ fd: Int32) {
        guard let output = outputs.removeValue(forKey: fd) else { return }
        // A last line without its newline is still a line.
        if output.isStdout, !output.line.isEmpty, let onOutputLine { onOutputLine(String(decoding: output.line, as: UTF8.self)) }
        monitor.unwatch(fd)
        close(fd)
        let kept = ChildProcess.KeptOutput(output.tail.suffix(ChildProcess.tailBytes), total: output.total)
        if output.isStdout { stdoutKept = kept } else { stderrKept = kept }
        finishIfDone()
    }

    private func writeInput() {
        guard var input = stdin else { return }
        let written = input.data.withUnsafeBytes { raw in
            write(input.fd, raw.baseAddress! + input.offset, raw.count - input.offset)
        }
        if written < 0 && (errno == EINTR || errno == EAGAIN) { return }
        // EPIPE: the program does not read its input; that is its business.
        guard written > 0 else { return closeInput() }
        input.offset += written
        stdin = input
        if input.offset == input.data.count { closeInput() }
    }

    private func closeInput() {
        guard let input = stdin else { return }
        monitor.unwatch(input.fd)
        close(input.fd)
        stdin = nil
    }

    private func finishIfDone() {
        guard reaped || programStatus != nil, outputs.isEmpty, !ended else { return }
        ended = true
        closeInput()
        if let failure {
            child.end(.failure(failure))
        } else if unheld {
            let output = ChildProcess.Exit(termination: .init(waitStatus: programStatus ?? reaperStatus), stdout: stdoutKept, stderr: stderrKept).quotedTail
            child.end(.failure(child.heldToDeadline ? AttemptPastDeadline(program: child.program, output: output) as any Error : AttemptUnheld(program: child.program)))
        } else if !started {
            child.end(.failure(ChildProcessError(program: child.program, stage: .spawn, errno: ECHILD)))
        } else {
            // No report from the reaper: it was killed, and the program with it.
            let termination = programStatus.map(ChildProcess.Termination.init(waitStatus:)) ?? .init(waitStatus: reaperStatus)
            child.end(.success(ChildProcess.Exit(termination: termination, stdout: stdoutKept, stderr: stderrKept)))
        }
    }
}
