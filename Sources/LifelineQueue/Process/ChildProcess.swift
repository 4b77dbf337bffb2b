import CLifelineSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program run without a shell, under a reaper (see `lifeline_spawn_reaped`): it runs in a
/// process group of its own, and when it ends, is stopped, or its worker dies, everything it
/// started ends too, descendants that left its group included.
public struct ChildProcess: Sendable {
    public enum Termination: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        init(waitStatus status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }

        // Written out: the default description reflects the value, and the runtime's first
        // reflection of a type scans the binary's conformance records (by callgrind, 10.5
        // million instructions as a pool's four processes ended).
        public var description: String {
            switch self {
            case .exited(let status): "exited(\(status))"
            case .signalled(let signal): "signalled(\(signal))"
            }
        }
    }

    /// The end of what a program wrote to one of its outputs.
    public struct KeptOutput: Sendable, Hashable {
        /// At most ``ChildProcess/tailBytes``, from a line's start where one starts in it, so
        /// that a number or word cut in two does not read as output of its own.
        public var end: String
        /// How many bytes came before `end`.
        public var before: Int

        /// Of an output of `total` bytes, whose last bytes are `last`.
        init(_ last: ArraySlice<UInt8>, total: Int) {
            var start = last.startIndex
            if total > last.count, let newline = last.firstIndex(of: 0x0A), newline + 1 < last.endIndex { start = newline + 1 }
            end = String(decoding: last[start...], as: UTF8.self)
            before = total - (last.endIndex - start)
        }

        /// As a job's result keeps it: `end`, after a line saying how much came before, if any.
        public var text: String {
            before == 0 ? end : "[\(before) bytes before]\n" + end
        }

        /// Its end for one line about the program: at most 512 characters, from a line's start
        /// where one starts in them, after `…` when cut.
        public var quoted: String {
            let trimmed = end.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.count > 512 else { return (before > 0 ? "…" : "") + trimmed }
            // Lines are found by their scalar: "\r\n" is one Character.
            let last = trimmed.suffix(512)
            return "…" + (last.unicodeScalars.firstIndex(of: "\n").map { last[last.unicodeScalars.index(after: $0)...] } ?? last)
        }
    }

    public struct Exit: Sendable, Hashable {
        public var termination: Termination
        public var stdout: KeptOutput
        public var stderr: KeptOutput

        /// The ends of stdout and stderr, as a job's result keeps them.
        public var stdoutTail: String { stdout.text }
        public var stderrTail: String { stderr.text }

        /// What to quote of the output in one line about the program: the end of its stderr,
        /// or of its stdout when it wrote nothing there.
        public var quotedTail: String {
            (stderr.end.isEmpty && stderr.before == 0 ? stdout : stderr).quoted
        }
    }

    /// Thrown by ``run()`` when its task was cancelled and the program stopped: what it wrote
    /// last goes with the attempt's outcome (a timeout's error says it).
    public struct Stopped: Error, CustomStringConvertible {
        public var exit: Exit
        public var description: String { "stopped" + (exit.quotedTail.isEmpty ? "" : ": \(exit.quotedTail)") }
    }

    public static let tailBytes = 4096

    public var argv: [String]
    public var environment: [String: String]
    public var directory: String?
    /// Written to the program's stdin, which is then closed; `nil` gives it /dev/null.
    public var input: Data?
    /// Called on the monitor's thread with each line the program writes to stdout.
    public var onOutputLine: (@Sendable (String) -> Void)?
    /// What the program's group receives when it is stopped (``RunningChild/kill()``) or when
    /// this process dies.
    public var stopSignal: Int32

    public init(
        argv: [String], environment: [String: String], directory: String?, input: Data? = nil, stopSignal: Int32 = SIGKILL,
        onOutputLine: (@Sendable (String) -> Void)? = nil
    ) {
        self.argv = argv
        self.environment = environment
        self.directory = directory
        self.input = input
        self.stopSignal = stopSignal
        self.onOutputLine = onOutputLine
    }

    /// Runs the program to its end. Cancelling the calling task stops it and everything it
    /// started, then throws ``Stopped``, unless the stop found the program ended.
    public func run() async throws -> Exit {
        let child = try await start()
        let exit = try await withTaskCancellationHandler {
            try await child.exit()
        } onCancel: {
            child.kill()
        }
        // SIGKILL leaves no exit status: a program that exited ended before its stop, which a
        // worker continued after a SIGSTOP sees at the same time as its program's end.
        if case .exited = exit.termination, stopSignal == SIGKILL { return exit }
        if Task.isCancelled { throw Stopped(exit: exit) }
        return exit
    }

    /// Starts the program; its reaper is running when this returns. Started by a job's
    /// attempt, the program is stopped when the attempt's hold runs out (see ``AttemptHolds``),
    /// even if this process cannot act then, and ends with ``AttemptUnheld``.
    public func start() async throws -> RunningChild {
        // Pipes made before one that fails are closed again.
        var made: [(read: Int32, write: Int32)] = []
        func pipe() throws -> (read: Int32, write: Int32) {
            do {
                made.append(try Pipe.make())
                return made.last!
            } catch {
                made.forEach { _ = close($0.read); _ = close($0.write) }
                throw error
            }
        }
        let control = try pipe()
        let status = try pipe()
        let stdin = input == nil ? nil : try pipe()
        let stdout = try pipe()
        let stderr = try pipe()
        let childEnds = [control.read, status.write, stdin?.read, stdout.write, stderr.write].compactMap { $0 }
        // The control pipe's write end belongs to the RunningChild, which closes it.
        let parentEnds = [status.read, stdin?.write, stdout.read, stderr.read].compactMap { $0 }
        let child = RunningChild(program: argv[0], directory: directory, control: control.write, killedAtStop: stopSignal == SIGKILL)
        // Its first hold waits in the control pipe for the reaper, which never runs unheld.
        if let held = AttemptHolds.current { child.follow(held) }
        let session = ChildSession(
            child: child, status: status.read, stdin: stdin.map { ($0.write, input ?? Data()) }, stdout: stdout.read,
            stderr: stderr.read, onOutputLine: onOutputLine
        )
        let spec = self
        // Programs start one after another, on the monitor's thread: behind a burst of others
        // (hundreds claimed at once), a start may wait seconds. Stopped meanwhile (a timeout,
        // a cancel), the program never starts, and the attempt ends at once, not once its turn
        // has come and it has been started and stopped.
        let start = PendingStart()
        let started: Result<pid_t, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard start.wait(continuation) else { return }
                ChildMonitor.shared.perform {
                    guard let continuation = start.take() else {
                        (childEnds + parentEnds).forEach { _ = close($0) }
                        child.kill()
                        return
                    }
                    var reaper: pid_t = 0
                    let result = spec.spawn(
                        stdin: stdin?.read ?? -1, stdout: stdout.write, stderr: stderr.write,
                        control: control.read, status: status.write, reaper: &reaper
                    )
                    childEnds.forEach { _ = close($0) }
                    guard result == 0 else {
                        parentEnds.forEach { _ = close($0) }
                        child.kill()
                        continuation.resume(returning: .failure(ChildProcessError(program: spec.argv[0], stage: .spawn, errno: result)))
                        return
                    }
                    session.begin(reaper: reaper)
                    child.killsReaper { delay in ChildMonitor.shared.perform { session.killReaper(after: delay) } }
                    continuation.resume(returning: .success(reaper))
                }
            }
        } onCancel: {
            start.cancel()
        }
        _ = try started.get()
        return child
    }

    private func spawn(stdin: Int32, stdout: Int32, stderr: Int32, control: Int32, status: Int32, reaper: inout pid_t) -> Int32 {
        Self.withCArrays(argv: argv, environment: environment) { argvPointers, envPointers in
            guard let directory else {
                return lifeline_spawn_reaped(argvPointers, envPointers, nil, stdin, stdout, stderr, control, status, stopSignal, &reaper)
            }
            return directory.withCString {
                lifeline_spawn_reaped(argvPointers, envPointers, $0, stdin, stdout, stderr, control, status, stopSignal, &reaper)
            }
        }
    }

    /// Calls `body` with `argv` and `environment` (as NAME=value) as NULL-terminated C arrays,
    /// what exec takes.
    public static func withCArrays<R>(
        argv: [String], environment: [String: String], _ body: ([UnsafeMutablePointer<CChar>?], [UnsafeMutablePointer<CChar>?]) -> R
    ) -> R {
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (arguments + variables).forEach { free($0) } }
        return body(arguments, variables)
    }
}

/// A started program: stop it, and wait for it and everything it started to end.
public final class RunningChild: Sendable {
    let program: String
    let directory: String?
    /// The write end of the reaper's control pipe (-1 once closed), and the latest hold sent on it.
    private let control: Mutex<(fd: Int32, held: AttemptHolds.Hold?)>
    /// The attempt whose holds the program follows until it ends, and how it is told of them.
    private let attempt = Mutex<(held: AttemptHolds.Held, watcher: Int)?>(nil)
    private let ending = ProcessEnd<Result<ChildProcess.Exit, any Error>>()
    /// Kills its reaper, and the program's group with it, after the delay given, until the
    /// program has ended.
    private let reaperKiller = Mutex<(@Sendable (Duration) -> Void)?>(nil)
    /// How long its reaper has to act on ``kill()``. One that has not by then is stopped
    /// (SIGSTOP) or wedged: it is killed itself, or the program would outlive its stop.
    static let reaperGrace = Duration.seconds(1)

    /// Whether ``kill()`` kills the program: a gentler stop signal leaves it its hold's end,
    /// and its reaper is not late when it waits for that.
    private let killedAtStop: Bool

    init(program: String, directory: String?, control: Int32, killedAtStop: Bool) {
        self.program = program
        self.directory = directory
        self.control = Mutex((control, nil))
        self.killedAtStop = killedAtStop
    }

    /// Whether the last hold its reaper was given was its attempt's deadline: a program the
    /// reaper stopped then ran past its timeout.
    var heldToDeadline: Bool {
        control.withLock { $0.held?.isDeadline ?? false }
    }

    deinit {
        kill()
        unfollow()
    }

    /// Holds the program as `held` is held, from now until it ends.
    func follow(_ held: AttemptHolds.Held) {
        guard let watcher = held.holds.watch(held.key, { [weak self] in self?.hold($0) }) else { return }
        attempt.withLock { $0 = (held, watcher) }
    }

    private func unfollow() {
        if let (held, watcher) = attempt.withLock({ $0.take() }) { held.holds.unwatch(held.key, watcher) }
    }

    /// Lets the program run until the hold's end, unless it was held longer already; its
    /// reaper kills it then unless held longer.
    private func hold(_ hold: AttemptHolds.Hold) {
        control.withLock { control in
            guard control.held.map({ $0.until < hold.until }) ?? true else { return }
            control.held = hold
            Self.send(LIFELINE_REAPER_HOLD, value: hold.until.nanoseconds, on: control.fd)
        }
    }

    private static func send(_ kind: Int, value: Int64, on fd: Int32) {
        guard fd >= 0 else { return }
        var request = lifeline_reaper_request(kind: Int32(kind), unused: 0, value: value)
        _ = write(fd, &request, MemoryLayout<lifeline_reaper_request>.size)
    }

    /// Stops the program's group with its stop signal, then everything else it started. When
    /// that signal is SIGKILL and the reaper has not acted ``reaperGrace`` later, kills the
    /// reaper, and the program's group with it.
    public func kill() {
        let closed = control.withLock { control -> Bool in
            guard control.fd >= 0 else { return false }
            close(control.fd)
            control.fd = -1
            return true
        }
        if closed, killedAtStop { reaperKiller.withLock { $0 }?(Self.reaperGrace) }
    }

    func killsReaper(with kill: @escaping @Sendable (Duration) -> Void) {
        reaperKiller.withLock { $0 = kill }
    }

    /// Waits until the program and everything it started have ended.
    public func exit() async throws -> ChildProcess.Exit {
        try await ending.value.get()
    }

    func end(_ result: Result<ChildProcess.Exit, any Error>) {
        // Its reaper is gone: nothing to kill later, and the session it holds is let go.
        reaperKiller.withLock { $0 = nil }
        kill()
        unfollow()
        ending.set(result)
    }
}

enum Pipe {
    static func make() throws(ChildProcessError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard lifeline_pipe_cloexec(&fds) == 0 else { throw ChildProcessError(program: "pipe", stage: .spawn, errno: errno) }
        return (fds[0], fds[1])
    }
}

/// A program's start waiting for its turn on the monitor's thread, which its task's
/// cancellation ends at once: the start is then skipped.
private final class PendingStart: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Result<pid_t, any Error>, Never>)
        case taken
        case cancelled
    }

    private let state = Mutex(State.idle)

    /// Holds `continuation` until the start's turn; false (having resumed it) when the task
    /// was cancelled already.
    func wait(_ continuation: CheckedContinuation<Result<pid_t, any Error>, Never>) -> Bool {
        let cancelled = state.withLock { state in
            guard case .idle = state else { return true }
            state = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(returning: .failure(CancellationError())) }
        return !cancelled
    }

    /// At the start's turn: its continuation, or nil when the start was cancelled.
    func take() -> CheckedContinuation<Result<pid_t, any Error>, Never>? {
        state.withLock { state in
            guard case .waiting(let continuation) = state else { return nil }
            state = .taken
            return continuation
        }
    }

    func cancel() {
        let waiting = state.withLock { state -> CheckedContinuation<Result<pid_t, any Error>, Never>? in
            switch state {
            case .idle:
                state = .cancelled
                return nil
            case .waiting(let continuation):
                state = .cancelled
                return continuation
            case .taken, .cancelled:
                return nil
            }
        }
        waiting?.resume(returning: .failure(CancellationError()))
    }
}
