import Foundation
import LifelineQueue
import Synchronization

/// The database server's time, as this process reads it between round trips: the server's
/// clock when last asked, moved on by this process's continuous clock. Every host of a queue
/// then stamps leases, due times and events by one clock, the server's, so a host whose own
/// clock is ahead does not see other hosts' leases as run out, and a step of its clock (an
/// NTP correction, a resumed VM) moves nothing. Asked again every minute, to follow the
/// server's own corrections.
final class ServerClock: Sendable {
    private struct Reading {
        var serverMs: Int64
        var at: ContinuousClock.Instant
    }

    private let reading = Mutex<Reading?>(nil)
    static let refresh: Duration = .seconds(60)
    /// The statement that reads the server's clock (its time now, not its transaction's).
    static let query = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// The server's time now; this host's clock until the server has answered once.
    func now() -> Date {
        guard let reading = reading.withLock({ $0 }) else { return Date() }
        return Date(ms: reading.serverMs + (ContinuousClock.now - reading.at).milliseconds)
    }

    /// Whether the server should be asked for its time before the next statement.
    var isDue: Bool {
        reading.withLock { reading in reading.map { ContinuousClock.now - $0.at >= Self.refresh } ?? true }
    }

    /// Records the server's answer `serverMs` to a question sent at `sent` and answered at
    /// `answered`: the server read its clock somewhere in between, taken as the middle.
    func record(serverMs: Int64, sent: ContinuousClock.Instant, answered: ContinuousClock.Instant) {
        let middle = sent + (answered - sent) / 2
        reading.withLock { $0 = Reading(serverMs: serverMs, at: middle) }
    }
}
