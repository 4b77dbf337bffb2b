import CLifelineSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread that starts every child process and watches all their pipes with poll(2).
/// Reading a child's output and learning that it ended never occupies a task or a dispatch
/// thread: with many children, those blocking waits would starve the worker's own timers,
/// heartbeats and claims (Swift's cooperative pool has one thread per core).
///
/// Watches and timers are changed only on the monitor's thread: from elsewhere, `perform`.
final class ChildMonitor: @unchecked Sendable {
    static let shared = ChildMonitor()

    private struct Watch {
        var events: Int16
        var handler: (Int16) -> Void
    }

    private let wakeFD: Int32
    private let pending = Mutex<[@Sendable () -> Void]>([])
    // Owned by the monitor's thread.
    private var watches: [Int32: Watch] = [:]
    private var timers: [(deadline: ContinuousClock.Instant, action: () -> Void)] = []

    private init() {
        wakeFD = lifeline_eventfd()
        precondition(wakeFD >= 0, "eventfd: \(String(cString: strerror(errno)))")
        // Writing to a program that has exited must fail with EPIPE, not kill the worker.
        signal(SIGPIPE, SIG_IGN)
        // Each running program holds four pipes here: hundreds of them need more than the
        // usual soft limit of 1,024 descriptors. The programs get the original limit back.
        _ = lifeline_raise_open_files_limit()
        let thread = Thread { [self] in loop() }
        thread.name = "lifeline-children"
        thread.start()
    }

    /// Runs `work` on the monitor's thread, soon.
    func perform(_ work: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Calls `handler` with the returned events each time `fd` is ready. Monitor thread only.
    func watch(_ fd: Int32, events: Int16, _ handler: @escaping (Int16) -> Void) {
        watches[fd] = Watch(events: events, handler: handler)
    }

    /// Monitor thread only.
    func unwatch(_ fd: Int32) {
        watches[fd] = nil
    }

    /// Calls `action` once `delay` has passed. Monitor thread only.
    func after(_ delay: Duration, _ action: @escaping () -> Void) {
        timers.append((ContinuousClock.now + delay, action))
    }

    /// The descriptors polled are written each turn into one buffer the loop owns, grown as
    /// needed. An array made each turn was never freed (by massif, 3,000 `exec` jobs left
    /// 380 KB of them, and a pool's runner grew by about 40 bytes a job); one array reused was
    /// found shared at each turn's start, copied, and grew the same way.
    private func loop() {
        var capacity = 64
        var fds = UnsafeMutablePointer<pollfd>.allocate(capacity: capacity)
        while true {
            let count = 1 + watches.count
            if count > capacity {
                fds.deallocate()
                capacity = max(count, capacity * 2)
                fds = .allocate(capacity: capacity)
            }
            fds[0] = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            for (index, (fd, watch)) in watches.enumerated() {
                fds[1 + index] = pollfd(fd: fd, events: watch.events, revents: 0)
            }
            let timeout = timers.map(\.deadline).min().map { deadline in
                Int32(clamping: max(0, (deadline - .now).milliseconds + 1))
            } ?? -1
            let ready = poll(fds, nfds_t(count), timeout)
            if ready < 0 && errno != EINTR { fatalError("poll: \(String(cString: strerror(errno)))") }
            for index in 1..<count where fds[index].revents != 0 {
                watches[fds[index].fd]?.handler(fds[index].revents)
            }
            runDueTimers()
            if fds[0].revents != 0 {
                var count: UInt64 = 0
                _ = read(wakeFD, &count, 8)
                runPending()
            }
        }
    }

    /// Runs the work waiting, for at most a slice of time: a burst of starts (hundreds of
    /// programs claimed at once, each a fork and an exec on a busy machine) is run between
    /// looks at the pipes and timers, so that the ends of running programs, and the kills of
    /// reapers that did not stop theirs, never wait for all of it. What is left goes first
    /// at the next turn, which comes at once.
    private func runPending() {
        let works = pending.withLock { $0.take() }
        let slice = ContinuousClock.now + .milliseconds(20)
        for (index, work) in works.enumerated() {
            work()
            let rest = works.count - index - 1
            guard rest > 0, ContinuousClock.now >= slice else { continue }
            pending.withLock { $0.insert(contentsOf: works.suffix(rest), at: 0) }
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
            return
        }
    }

    private func runDueTimers() {
        let now = ContinuousClock.now
        let due = timers.filter { $0.deadline <= now }
        timers.removeAll { $0.deadline <= now }
        for timer in due { timer.action() }
    }
}

extension Array {
    /// The elements, leaving the array empty.
    mutating func take() -> [Element] {
        defer { removeAll() }
        return self
    }
}
