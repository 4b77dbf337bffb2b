import CLifelineSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The pool's ends of the sockets to its runner processes (whose ends are ``RunnerLoop``s),
/// which carry ``RunnerMessage`` frames, all served by one thread. It waits for every socket
/// in one `poll`, so ends that several runners report at once cost the pool's process one
/// wakeup and reach the worker from one thread, which no other reader contends with for the
/// pool's locks. Sending never blocks the caller: messages are queued, and the thread writes
/// each socket's queue with one system call; what a socket has no room for waits for room
/// there without holding up the others (a stopped runner stops only itself).
final class RunnerSockets: Sendable {
    /// Where a socket's news goes, on the sockets' thread.
    struct Receiver: Sendable {
        /// The messages of one read, together: a pool takes its lock once for a batch's ends.
        let messages: @Sendable ([RunnerMessage]) -> Void
        /// Called once, when the socket is done with (the other end closed it, sent something
        /// unreadable, or ``RunnerSockets/close(_:)`` was called), with why.
        let closed: @Sendable (String) -> Void
    }

    private struct Socket {
        let id: Int
        let fd: Int32
        let receiver: Receiver
        var outgoing: [UInt8] = []
        var closing = false
    }

    private struct State {
        /// One per runner, so a list: looked through in place for each message, not hashed.
        var sockets: [Socket] = []

        func index(of id: Int) -> Int? {
            sockets.indices.first { sockets[$0].id == id }
        }
        /// Something was queued, added or closed since the thread last looked.
        var changed = false
        /// The thread waits in poll: whoever changes something writes to `wakeFD`.
        var sleeping = false
        /// Whether the thread runs; it ends once no socket is left, and the next one starts it again.
        var serving = false
        /// Messages are being gathered (see ``gathering(_:)``): a thread asleep is woken at its end.
        var gatherers = 0

        /// Whether the thread sleeps, and so must be woken: it counts as awake from here on.
        mutating func takeSleeping() -> Bool {
            defer { sleeping = false }
            return sleeping
        }
    }

    /// A socket as the thread holds it.
    private struct Served {
        let fd: Int32
        let receiver: Receiver
        var reader: MessageReader
        /// Taken from the queue, and not yet accepted by the socket.
        var unsent: [UInt8] = []
        /// Shut down for both directions, once what was queued before its close went out.
        var shut = false
    }

    private let wakeFD: Int32
    private let state = Mutex(State())

    init() throws(ChildProcessError) {
        wakeFD = lifeline_eventfd()
        guard wakeFD >= 0 else { throw ChildProcessError(program: "eventfd", stage: .spawn, errno: errno) }
    }

    deinit {
        Glibc.close(wakeFD)
    }

    /// Serves `fd`, a connected stream socket this takes ownership of, as the socket named `id`.
    func add(_ id: Int, fd: Int32, receiver: Receiver) {
        let (start, wake) = state.withLock { state in
            state.sockets.append(Socket(id: id, fd: fd, receiver: receiver))
            state.changed = true
            defer { (state.serving, state.sleeping) = (true, false) }
            return (!state.serving, state.sleeping)
        }
        if start { Thread.detachNewThread { [self] in serve() } }
        if wake { self.wake() }
    }

    /// Queues `message` for socket `id`; dropped once it is closed.
    func send(_ message: RunnerMessage, to id: Int) {
        queue(id) { message.write(to: &$0.outgoing) }
    }

    /// Queues a run of `job` for socket `id`, written from the job where it is, not first
    /// copied into a message (a copy of a `Job` retains every one of its strings).
    func sendRun(_ job: Job, holdUntil: Date, deadline: Date, to id: Int) {
        queue(id) { RunnerMessage.writeRun(job, holdUntil: holdUntil, deadline: deadline, to: &$0.outgoing) }
    }

    /// Stops sending and reading on socket `id`: the other end sees the end of the stream once
    /// what was queued before has been written.
    func close(_ id: Int) {
        queue(id) { $0.closing = true }
    }

    /// Whether the thread waits in `poll` with nothing to do: what is queued next wakes it
    /// (outside a gathering).
    var isWaiting: Bool { state.withLock { $0.sleeping } }

    /// Runs `body`, and sends what it queued once it is done: a claim's runs go to each socket
    /// in one write, which wakes its runner once, not as they are queued one by one. What
    /// other threads queue meanwhile (a stop, a hold) waits for the end too, if the thread was
    /// asleep: a claim's starts take well under a millisecond.
    func gathering(_ body: () -> Void) {
        state.withLock { $0.gatherers += 1 }
        body()
        let wake = state.withLock { state in
            state.gatherers -= 1
            return state.gatherers == 0 && state.changed && state.takeSleeping()
        }
        if wake { self.wake() }
    }

    private func queue(_ id: Int, _ change: (inout Socket) -> Void) {
        let wake = state.withLock { state in
            guard let index = state.index(of: id), !state.sockets[index].closing else { return false }
            change(&state.sockets[index])
            state.changed = true
            return state.gatherers == 0 && state.takeSleeping()
        }
        if wake { self.wake() }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func serve() {
        var served: [Int: Served] = [:]
        var polled: [pollfd] = []
        var order: [Int] = []
        var messages: [RunnerMessage] = []
        while true {
            // Takes what was queued, and the sockets added or closed, since the last turn.
            let closing = state.withLock { state in
                state.changed = false
                var closing: [Int] = []
                // In place, not copied out: each queue keeps its room for the next turn's messages.
                for index in state.sockets.indices {
                    let (id, fd) = (state.sockets[index].id, state.sockets[index].fd)
                    if served[id] == nil { served[id] = Served(fd: fd, receiver: state.sockets[index].receiver, reader: MessageReader(fd: fd)) }
                    // A socket shut down (its other end gone) sends nothing more.
                    if !served[id]!.shut { served[id]!.unsent += state.sockets[index].outgoing }
                    state.sockets[index].outgoing.removeAll(keepingCapacity: true)
                    if state.sockets[index].closing { closing.append(id) }
                }
                return closing
            }
            for id in Array(served.keys) where !served[id]!.shut {
                // A socket whose other end is gone is done sending; it is read to the end of
                // what that end wrote.
                let open = SocketSend.some(&served[id]!.unsent, to: served[id]!.fd)
                if !open || served[id]!.unsent.isEmpty && closing.contains(id) {
                    shutdown(served[id]!.fd, Int32(SHUT_RDWR))
                    served[id]!.unsent = []
                    served[id]!.shut = true
                }
            }
            let idle = state.withLock { state in
                state.sleeping = !state.changed
                return state.sleeping
            }
            polled.removeAll(keepingCapacity: true)
            order.removeAll(keepingCapacity: true)
            polled.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            for (id, socket) in served {
                order.append(id)
                polled.append(pollfd(fd: socket.fd, events: Int16(POLLIN) | (socket.unsent.isEmpty ? 0 : Int16(POLLOUT)), revents: 0))
            }
            // Waits in poll, not in read: a reader blocked in read on a Unix socket is also
            // woken each time the other end reads what this end sent (the socket's room for
            // writing grew), which costs both processes a context switch per message read.
            let ready = poll(&polled, nfds_t(polled.count), idle ? -1 : 0)
            state.withLock { $0.sleeping = false }
            if ready < 0, errno == EINTR { continue }
            var ends: [Int: String] = [:]
            if ready < 0 {
                // The pool restarts the runners whose sockets end.
                let why = "cannot wait for the socket (errno \(errno))"
                for id in order { ends[id] = why }
            }
            if polled[0].revents != 0 {
                var count: UInt64 = 0
                _ = read(wakeFD, &count, 8)
            }
            // Room to send only: the next turn sends.
            for (index, id) in order.enumerated() where ready > 0 && polled[index + 1].revents & ~Int16(POLLOUT) != 0 {
                messages.removeAll(keepingCapacity: true)
                let end = served[id]!.reader.read(appendingTo: &messages)
                // What was read before something unreadable is still delivered.
                if !messages.isEmpty { served[id]!.receiver.messages(messages) }
                ends[id] = end
            }
            for (id, end) in ends {
                let socket = served.removeValue(forKey: id)!
                Glibc.close(socket.fd)
                state.withLock { $0.sockets.removeAll { $0.id == id } }
                socket.receiver.closed(end)
            }
            let done = state.withLock { state in
                if state.sockets.isEmpty { state.serving = false }
                return !state.serving
            }
            if done { return }
        }
    }
}
