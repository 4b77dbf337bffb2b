import CLifelineSystem
import Foundation
import Synchronization
import Testing

@testable import LifelineQueue

#if canImport(Glibc)
import Glibc
#endif

@Suite("A runner process's loop")
struct RunnerLoopTests {
    /// A loop serving one end of a socket pair on a thread of its own; the test holds the other end.
    final class Harness: Sendable {
        let loop: RunnerLoop
        let peer: Int32
        /// Why the loop ended, once it has.
        let ended = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        private let received: Mutex<(reader: MessageReader, messages: [RunnerMessage])>

        init(onMessage: @escaping @Sendable (RunnerMessage, RunnerLoop) -> Void) throws {
            var ends: [Int32] = [0, 0]
            try #require(lifeline_socketpair_cloexec(&ends) == 0)
            peer = ends[0]
            received = Mutex((MessageReader(fd: peer), []))
            let loop = try RunnerLoop(fd: ends[1])
            self.loop = loop
            Thread.detachNewThread { [self] in
                let why = loop.run { message in onMessage(message, loop) } afterRead: {}
                ended.withLock { $0 = why }
                done.signal()
            }
        }

        /// Sends `message` whole: a short message always finds room in a socket the loop reads.
        func send(_ message: RunnerMessage) {
            var bytes = message.frame
            #expect(SocketSend.some(&bytes, to: peer) && bytes.isEmpty)
        }

        /// The next message from the loop, or nil after `deadline`.
        func next(within deadline: Duration = .seconds(5)) -> RunnerMessage? {
            let end = ContinuousClock.now + deadline
            while ContinuousClock.now < end {
                if let message = received.withLock({ $0.messages.isEmpty ? nil : $0.messages.removeFirst() }) { return message }
                var ready = pollfd(fd: peer, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 100) > 0 else { continue }
                guard received.withLock({ received in
                    received.reader.read(appendingTo: &received.messages) == nil
                }) else { return nil }
            }
            return nil
        }
    }

    static let key = AttemptKey(id: 7, attempt: 1)

    @Test("its tasks run on its thread; a timer, and a report from another thread, wake it")
    func wakes() throws {
        let harness = try Harness { message, loop in
            guard case .stop(let key) = message else { return }
            let loopThread = pthread_self()
            Task(executorPreference: loop) {
                try await Task.sleep(for: .milliseconds(20))
                Thread.detachNewThread { loop.send(.progress(key, .string("from another thread"))) }
                loop.send(.ended(key, .returned(.bool(pthread_equal(pthread_self(), loopThread) != 0))))
            }
        }
        harness.send(.stop(Self.key))
        let first = harness.next()
        let second = harness.next()
        let messages = [first, second].compactMap { $0 }
        #expect(messages.contains(.ended(Self.key, .returned(.bool(true)))))
        #expect(messages.contains(.progress(Self.key, .string("from another thread"))))
        close(harness.peer)
    }

    @Test("it reads the socket while tasks keep it busy, and ends when the other end closes")
    func readsWhileBusy() throws {
        let spinner = Mutex<Task<Void, Never>?>(nil)
        let harness = try Harness { message, loop in
            switch message {
            case .stop(let key) where key.id == 1:
                // Never waits: the loop always has this task to run.
                spinner.withLock { $0 = Task(executorPreference: loop) { while !Task.isCancelled { await Task.yield() } } }
            case .stop(let key):
                spinner.withLock { $0?.cancel() }
                loop.send(.ended(key, .returned(nil)))
            default:
                break
            }
        }
        harness.send(.stop(AttemptKey(id: 1, attempt: 1)))
        harness.send(.stop(AttemptKey(id: 2, attempt: 1)))
        #expect(harness.next() == .ended(AttemptKey(id: 2, attempt: 1), .returned(nil)))
        close(harness.peer)
        #expect(harness.done.wait(timeout: .now() + 5) == .success)
        #expect(harness.ended.withLock { $0 } == MessageReader.otherEndClosed)
    }
}
