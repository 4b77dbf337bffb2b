import CLifelineSystem
import Foundation
import Synchronization
import Testing

@testable import LifelineQueue

#if canImport(Glibc)
import Glibc
#endif

@Suite("A pool's sockets, served by one thread")
struct RunnerSocketsTests {
    /// One socket pair: the pool's end served by `sockets` as `id`, the test holding the other (a runner's).
    final class Peer: Sendable {
        let id: Int
        let fd: Int32
        let received = Mutex<[RunnerMessage]>([])
        let closedWhy = Mutex<[String]>([])

        init(_ id: Int, on sockets: RunnerSockets) throws {
            var ends: [Int32] = [0, 0]
            try #require(lifeline_socketpair_cloexec(&ends) == 0)
            self.id = id
            fd = ends[1]
            sockets.add(id, fd: ends[0], receiver: RunnerSockets.Receiver(
                messages: { [self] messages in received.withLock { $0 += messages } },
                closed: { [self] why in closedWhy.withLock { $0.append(why) } }
            ))
        }

        /// Reports `message` to the pool, as a runner does.
        func report(_ message: RunnerMessage) {
            var bytes = message.frame
            #expect(SocketSend.some(&bytes, to: fd) && bytes.isEmpty)
        }

        /// Reads what the pool sent until `count` messages have come or `deadline` passes.
        func read(count: Int, within deadline: Duration = .seconds(10)) -> [RunnerMessage] {
            var reader = MessageReader(fd: fd)
            var messages: [RunnerMessage] = []
            let end = ContinuousClock.now + deadline
            while messages.count < count, ContinuousClock.now < end {
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 100) > 0 else { continue }
                if reader.read(appendingTo: &messages) != nil { break }
            }
            return messages
        }

        /// Reads what the pool sent until the stream ends or `deadline` passes; returns the
        /// messages, and whether the stream ended.
        func readAll(within deadline: Duration = .seconds(10)) -> (messages: [RunnerMessage], ended: Bool) {
            var reader = MessageReader(fd: fd)
            var messages: [RunnerMessage] = []
            let end = ContinuousClock.now + deadline
            while ContinuousClock.now < end {
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 100) > 0 else { continue }
                if reader.read(appendingTo: &messages) != nil { return (messages, true) }
            }
            return (messages, false)
        }
    }

    /// Whether `condition` comes true within `deadline`.
    static func waitFor(within deadline: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
        let end = ContinuousClock.now + deadline
        while !condition() {
            guard ContinuousClock.now < end else { return false }
            usleep(5_000)
        }
        return true
    }

    @Test("a runner that stops reading holds up only its own socket; a close sends what was queued, then the end of the stream")
    func stoppedPeerHoldsUpOnlyItself() throws {
        let sockets = try RunnerSockets()
        let stopped = try Peer(1, on: sockets)
        let reading = try Peer(2, on: sockets)
        defer { close(stopped.fd) }
        // Far more than a socket holds: the stopped runner's socket fills, and the rest waits.
        let hold = RunnerMessage.hold(AttemptKey(id: 1, attempt: 1), until: Date(ms: 1))
        for _ in 0..<100_000 { sockets.send(hold, to: stopped.id) }
        for id in 1...3 { sockets.send(.stop(AttemptKey(id: Int64(id), attempt: 1)), to: reading.id) }
        sockets.close(reading.id)
        let (messages, ended) = reading.readAll()
        #expect(messages == (1...3).map { .stop(AttemptKey(id: Int64($0), attempt: 1)) })
        #expect(ended)
        #expect(Self.waitFor { reading.closedWhy.withLock { $0.count } == 1 }, "the closed socket's report")
        // The stopped runner goes on: everything queued for it arrives, in order.
        sockets.close(stopped.id)
        let rest = stopped.readAll(within: .seconds(30))
        #expect(rest.ended && rest.messages.count == 100_000 && rest.messages.allSatisfy { $0 == hold })
        #expect(Self.waitFor { stopped.closedWhy.withLock { $0.count } == 1 }, "the second socket's report")
        close(reading.fd)
    }

    @Test("messages queued while gathering (a claim's runs) all reach their sockets, in order, once the gathering ends")
    func gathered() throws {
        let sockets = try RunnerSockets()
        let peers = try (1...2).map { try Peer($0, on: sockets) }
        // The thread has served a message and has nothing left to do: it goes to sleep.
        sockets.send(.alive, to: peers[0].id)
        #expect(peers[0].read(count: 1) == [.alive])
        #expect(Self.waitFor { sockets.isWaiting }, "the thread asleep")
        let stops = (1...20).map { RunnerMessage.stop(AttemptKey(id: Int64($0), attempt: 1)) }
        sockets.gathering {
            for (index, stop) in stops.enumerated() { sockets.send(stop, to: peers[index % 2].id) }
            #expect(sockets.isWaiting, "queued while gathering, nothing has woken the thread")
        }
        // Nothing else is queued: only the end of the gathering wakes the thread.
        for (index, peer) in peers.enumerated() {
            let expected = stops.enumerated().filter { $0.offset % 2 == index }.map(\.element)
            #expect(peer.read(count: expected.count) == expected)
        }
        for peer in peers {
            sockets.close(peer.id)
            #expect(peer.readAll().ended)
            close(peer.fd)
        }
    }

    @Test("what runners report reaches the pool; a runner that goes away is reported once, after what it wrote")
    func reportsThenEnd() throws {
        let sockets = try RunnerSockets()
        let peers = try (1...3).map { try Peer($0, on: sockets) }
        for peer in peers { peer.report(.ended(AttemptKey(id: Int64(peer.id), attempt: 1), .returned(nil))) }
        close(peers[1].fd)
        #expect(Self.waitFor { peers.allSatisfy { $0.received.withLock { $0.count } == 1 } }, "the reports")
        #expect(Self.waitFor { peers[1].closedWhy.withLock { $0 } == [MessageReader.otherEndClosed] }, "the end of the one that went")
        #expect(peers[0].closedWhy.withLock { $0.isEmpty } && peers[2].closedWhy.withLock { $0.isEmpty })
        // Sending to a socket that has gone is dropped, not an error.
        sockets.send(.stop(AttemptKey(id: 2, attempt: 1)), to: peers[1].id)
        // The others still work, and a new socket after them too.
        peers[2].report(.progress(AttemptKey(id: 3, attempt: 1), .int(5)))
        let late = try Peer(4, on: sockets)
        late.report(.ended(AttemptKey(id: 4, attempt: 1), .notStarted))
        #expect(Self.waitFor { peers[2].received.withLock { $0.count } == 2 && late.received.withLock { $0.count } == 1 }, "the later reports")
        for peer in [peers[0], peers[2], late] {
            sockets.close(peer.id)
            #expect(peer.readAll().ended)
            close(peer.fd)
        }
    }
}
