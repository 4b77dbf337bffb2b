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
    /// process once this one is reaped.
    private let pidfd: Int32
    private let ending = ProcessEnd<ChildProcess.Termination>()

    private init(pid: pid_t, pidfd: Int32) {
        self.pid = pid
        self.pidfd = pidfd
    }

    deinit {
        close(pidfd)
    }

    /// Starts `argv` (its first string a path) with `input` as its stdin, on the children's
    /// monitor thread: the kernel's parent-death signal follows the thread that started a
    /// process, and that thread lasts as long as this process.
    static func start(argv: [String], environment: [String: String], input: Int32) async throws(ChildProcessError) -> DirectChild {
        let monitor = ChildMonitor.shared
        let started: Result<DirectChild, ChildProcessError> = await withCheckedContinuation { continuation in
            monitor.perform {
                var pid: pid_t = 0
                var pidfd: Int32 = -1
                let result = ChildProcess.withCArrays(argv: argv, environment: environment) { argv, env in
                    lifeline_spawn_direct(argv, env, input, &pid, &pidfd)
                }
                guard result == 0 else {
                    continuation.resume(returning: .failure(ChildProcessError(program: argv[0], stage: .spawn, errno: result)))
                    return
                }
                let child = DirectChild(pid: pid, pidfd: pidfd)
                // Watched until it has ended: the watch keeps it.
                monitor.watch(pidfd, events: Int16(POLLIN)) { _ in child.collect(on: monitor) }
                continuation.resume(returning: .success(child))
            }
        }
        return try started.get()
    }

    /// Kills it (SIGKILL), stopped or not; nothing once it has ended.
    func kill() {
        _ = lifeline_pidfd_signal(pidfd, SIGKILL)
    }

    /// Waits for it to end.
    func exit() async -> ChildProcess.Termination {
        await ending.value
    }

    /// Its pidfd is readable: it has ended. Monitor thread only.
    private func collect(on monitor: ChildMonitor) {
        var status: Int32 = 0
        var collected = waitpid(pid, &status, WNOHANG)
        while collected < 0 && errno == EINTR { collected = waitpid(pid, &status, WNOHANG) }
        guard collected != 0 else { return }
        monitor.unwatch(pidfd)
        // Nothing else here waits for children; were it collected elsewhere, its end is unknown,
        // and not taken for a clean one.
        ending.set(collected > 0 ? ChildProcess.Termination(waitStatus: status) : .exited(-1))
    }
}
