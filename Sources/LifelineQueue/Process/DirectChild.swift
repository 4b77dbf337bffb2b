import CLifelineSystem

#if canImport(Glibc)
import Glibc
#endif

/// A process started directly, without a reaper (see `lifeline_spawn_direct`): a pool's runner
/// process. It is this program, which stops its own attempts when their holds run out and
/// starts its jobs' programs under reapers of its own; the kernel kills it (SIGKILL) if this
/// process dies. A reaper is a fork of this process: forking a pool's writer for each runner
/// copied its page tables and left its memory shared copy-on-write with the reaper, so the
/// writer's next writes to it faulted, each fault flushing the other core's TLB (by perf, in
/// drains of an empty queue by 4 × 16, nearly a fifth of the writer's samples).
final class DirectChild: Sendable {
    let pid: pid_t
    /// Open for the child's whole life here: a signal sent through it never reaches another
    /// process once this one is reaped. -1 where pidfds are refused (a kernel before 5.3, a
    /// sandbox's seccomp filter): the child is then looked for by its pid every `lookInterval`.
    private let pidfd: Int32
    private let ending = ProcessEnd<ChildProcess.Termination>()
    /// Without a pidfd, how often the monitor looks whether the child has ended: a pool's
    /// runners live long, and their end is awaited only when the pool stops.
    static let lookInterval: Duration = .milliseconds(50)

    private init(pid: pid_t, pidfd: Int32) {
        self.pid = pid
        self.pidfd = pidfd
    }

    deinit {
        if pidfd >= 0 { close(pidfd) }
    }

    /// Starts the program at `path` with `argv` (its first string the name ps shows) and `input`
    /// as its stdin, on the children's monitor thread: the kernel's parent-death signal follows
    /// the thread that started a process, and that thread lasts as long as this process.
    /// Watched through a pidfd if `pidfd` and pidfds are allowed, by its pid otherwise.
    static func start(
        path: String, argv: [String], environment: [String: String], input: Int32, pidfd wanted: Bool = true
    ) async throws(ChildProcessError) -> DirectChild {
        let monitor = ChildMonitor.shared
        let started: Result<DirectChild, ChildProcessError> = await withCheckedContinuation { continuation in
            monitor.perform {
                var pid: pid_t = 0
                var pidfd: Int32 = -1
                let result = ChildProcess.withCArrays(argv: argv, environment: environment) { argv, env in
                    lifeline_spawn_direct(path, argv, env, input, wanted ? 1 : 0, &pid, &pidfd)
                }
                guard result == 0 else {
                    continuation.resume(returning: .failure(ChildProcessError(program: path, stage: .spawn, errno: result)))
                    return
                }
                let child = DirectChild(pid: pid, pidfd: pidfd)
                // Watched until it has ended: the watch, or the next look, keeps it.
                if pidfd >= 0 {
                    monitor.watch(pidfd, events: Int16(POLLIN)) { _ in child.collect(on: monitor) }
                } else {
                    child.look(on: monitor)
                }
                continuation.resume(returning: .success(child))
            }
        }
        return try started.get()
    }

    /// Kills it (SIGKILL), stopped or not; nothing once it has ended.
    func kill() {
        // A sandbox may let a pidfd be opened and still refuse signals through it.
        if pidfd >= 0, ![ENOSYS, EPERM].contains(lifeline_pidfd_signal(pidfd, SIGKILL)) { return }
        // By its pid, on the thread that reaps it: never once it is reaped, when the pid may
        // name another process.
        ChildMonitor.shared.perform { [self] in
            if !ending.isSet { _ = Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Waits for it to end.
    func exit() async -> ChildProcess.Termination {
        await ending.value
    }

    /// Without a pidfd: collects its end if it has ended, and looks again later if not.
    /// Monitor thread only.
    private func look(on monitor: ChildMonitor) {
        collect(on: monitor)
        if !ending.isSet { monitor.after(Self.lookInterval) { self.look(on: monitor) } }
    }

    /// Collects its end, if it has ended (its pidfd is readable, or a look found it). Monitor
    /// thread only.
    private func collect(on monitor: ChildMonitor) {
        var status: Int32 = 0
        var collected = waitpid(pid, &status, WNOHANG)
        while collected < 0 && errno == EINTR { collected = waitpid(pid, &status, WNOHANG) }
        guard collected != 0 else { return }
        if pidfd >= 0 { monitor.unwatch(pidfd) }
        // Nothing else here waits for children; were it collected elsewhere, its end is unknown,
        // and not taken for a clean one.
        ending.set(collected > 0 ? ChildProcess.Termination(waitStatus: status) : .exited(-1))
    }
}
