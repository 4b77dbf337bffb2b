import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The pool's end of the socket to one of its runner processes (whose end is a
/// ``RunnerLoop``), which carries ``RunnerMessage`` frames. Sending never blocks the caller.
/// Messages sent together (a claim starts many attempts at once) go out together: the first
/// queues a flush as a task of its own, which runs after the others have queued theirs and
/// writes them all with one system call. What the socket has no room for, a thread of the
/// channel's own writes. Another thread reads, and hands the messages of each read to
/// `onMessages` together (a pool then takes its lock once for a batch's ends, not once for
/// each), and calls `onClose` once the other end has gone (or sent something unreadable);
/// messages sent before `start` wait for it.
final class RunnerChannel: Sendable {
    private struct Outbox {
        var bytes: [UInt8] = []
        var flushQueued = false
        /// The writer thread owns the queue until it has written everything in it.
        var writerOwns = false
        var closed = false
    }

    private let fd: Int32
    private let outbox = Mutex(Outbox())
    private let ready = DispatchSemaphore(value: 0)
    private let writerDone = DispatchSemaphore(value: 0)

    /// Takes ownership of `fd`, a connected stream socket.
    init(fd: Int32) {
        self.fd = fd
    }

    func start(onMessages: @escaping @Sendable ([RunnerMessage]) -> Void, onClose: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread { [self] in writeLoop() }
        Thread.detachNewThread { [self] in readLoop(onMessages: onMessages, onClose: onClose) }
    }

    func send(_ message: RunnerMessage) {
        let frame = message.frame
        let queueFlush = outbox.withLock { outbox in
            guard !outbox.closed else { return false }
            outbox.bytes.append(contentsOf: frame)
            guard !outbox.writerOwns, !outbox.flushQueued else { return false }
            outbox.flushQueued = true
            return true
        }
        if queueFlush { Task { flush() } }
    }

    /// Writes what is queued without waiting; hands the rest to the writer thread.
    private func flush() {
        let handOver = outbox.withLock { outbox in
            outbox.flushQueued = false
            guard !outbox.writerOwns, !outbox.bytes.isEmpty else { return false }
            // A failure is the writer thread's to meet: what is left goes to it.
            _ = SocketSend.some(&outbox.bytes, to: fd)
            outbox.writerOwns = !outbox.bytes.isEmpty
            return outbox.writerOwns
        }
        if handOver { ready.signal() }
    }

    /// Stops sending and reading: the other end sees the end of the stream once what was
    /// queued before has been written.
    func close() {
        outbox.withLock { outbox in
            outbox.closed = true
            outbox.writerOwns = true
        }
        ready.signal()
    }

    private func writeLoop() {
        writing: while true {
            ready.wait()
            while true {
                let (bytes, closed) = outbox.withLock { outbox in
                    defer { outbox.bytes = [] }
                    if outbox.bytes.isEmpty, !outbox.closed { outbox.writerOwns = false }
                    return (outbox.bytes, outbox.closed)
                }
                guard SocketSend.all(bytes, to: fd) else { break writing }
                if bytes.isEmpty {
                    if closed { break writing }
                    break
                }
            }
        }
        outbox.withLock { $0.closed = true }
        // Ends the other end's reading, and this end's.
        shutdown(fd, Int32(SHUT_RDWR))
        writerDone.signal()
    }

    private func readLoop(onMessages: @Sendable ([RunnerMessage]) -> Void, onClose: @Sendable (String) -> Void) {
        var reader = MessageReader(fd: fd)
        var why = MessageReader.otherEndClosed
        while true {
            // Waits in poll, not in read: a reader blocked in read on a Unix socket is also
            // woken each time the other end reads what this end sent (the socket's room for
            // writing grew), which costs both processes a context switch per message read.
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            let (messages, end) = reader.read()
            // What was read before something unreadable is still delivered.
            if !messages.isEmpty { onMessages(messages) }
            if let end {
                why = end
                break
            }
        }
        close()
        // The descriptor is closed once the writer thread is done with it too.
        writerDone.wait()
        Glibc.close(fd)
        onClose(why)
    }
}
