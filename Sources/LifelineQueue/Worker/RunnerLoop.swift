import CLifelineSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A runner process's one thread, and the executor of its attempts' tasks: it reads the
/// pool's messages, runs the tasks they start and writes what those report, so that a batch
/// of attempts costs the process one wakeup, not one on each thread it passes through.
/// Handlers block only on threads of their own (``BlockingWork``). Work enqueued, or a
/// report sent, from another thread wakes the loop.
final class RunnerLoop: TaskExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var outgoing: [UInt8] = []
        /// The loop waits in poll: whoever adds something writes to `wakeFD`.
        var sleeping = false
        /// The loop has ended and closed its descriptors: what comes now is dropped.
        var ended = false
    }

    private let fd: Int32
    private let wakeFD: Int32
    private let queue = Mutex(Queue())

    /// Takes ownership of `fd`, a connected stream socket.
    init(fd: Int32) throws(ChildProcessError) {
        self.fd = fd
        wakeFD = lifeline_eventfd()
        guard wakeFD >= 0 else { throw ChildProcessError(program: "eventfd", stage: .spawn, errno: errno) }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        add { $0.jobs.append(job) }
    }

    func send(_ message: RunnerMessage) {
        add { message.write(to: &$0.outgoing) }
    }

    private func add(_ change: (inout Queue) -> Void) {
        let wake = queue.withLock { queue in
            guard !queue.ended else { return false }
            change(&queue)
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        if wake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Runs on the calling thread until the other end closes the socket (or sends something
    /// unreadable); hands each message read to `onMessage`, calls `afterRead` once a read's
    /// messages are handled, and returns why it ended.
    func run(onMessage: (consuming RunnerMessage) -> Void, afterRead: () -> Void) -> String {
        defer {
            queue.withLock { $0.ended = true }
            close(wakeFD)
            close(fd)
        }
        var reader = MessageReader(fd: fd)
        // What the socket had no room for. Sending never waits for room: a writer that stops
        // reading (stopped, or starved) must not stop this thread, which also stops the
        // attempts whose holds run out.
        var unsent: [UInt8] = []
        var ready = [pollfd](repeating: pollfd(), count: 2)
        while true {
            let jobs = queue.withLock { queue in
                defer { queue.jobs = [] }
                return queue.jobs
            }
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
            // What they reported goes out in this turn, not after another look at the socket.
            // Taken by copy: the queue keeps its room for the next reports.
            queue.withLock { queue in
                unsent += queue.outgoing
                queue.outgoing.removeAll(keepingCapacity: true)
            }
            guard SocketSend.some(&unsent, to: fd) else { return MessageReader.otherEndClosed }
            // With work still queued, the socket is only looked at: a stop must get through
            // even while tasks keep each other busy.
            let idle = queue.withLock { queue in
                queue.sleeping = queue.jobs.isEmpty && queue.outgoing.isEmpty
                return queue.sleeping
            }
            let events = Int16(POLLIN) | (unsent.isEmpty ? 0 : Int16(POLLOUT))
            ready[0] = pollfd(fd: fd, events: events, revents: 0)
            ready[1] = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 2, idle ? -1 : 0)
            queue.withLock { $0.sleeping = false }
            if polled < 0 {
                if errno == EINTR { continue }
                return "cannot wait for the other end (errno \(errno))"
            }
            if ready[1].revents != 0 {
                var count: UInt64 = 0
                _ = read(wakeFD, &count, 8)
            }
            // Room to send only: the next turn sends.
            guard ready[0].revents & ~Int16(POLLOUT) != 0 else { continue }
            // What was read before something unreadable is still handled.
            let end = reader.read(onMessage)
            afterRead()
            if let end { return end }
        }
    }
}
