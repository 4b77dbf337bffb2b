import GRDBSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a connection waits for SQLite's lock while another process holds it without taking
/// Lifeline's writer lock (the `sqlite3` CLI, a backup tool): up to the same timeout as for
/// the writer lock (`LIFELINE_LOCK_TIMEOUT`). It sleeps a short random while between tries;
/// SQLite's own handler sleeps up to 100 ms, which stalls writers of several processes.
enum BusyWait {
    private struct Wait {
        let timeout: Duration
        var since: ContinuousClock.Instant
    }

    /// By connection: SQLite hands the handler the pointer it was installed with, here the
    /// connection's own, so that each connection's wait starts at its own first try.
    private static let waits = Mutex<[Int: Wait]>([:])

    static func install(on connection: OpaquePointer, timeout: Duration) {
        waits.withLock { $0[Int(bitPattern: connection)] = Wait(timeout: timeout, since: .now) }
        sqlite3_busy_handler(
            connection, { context, tries in BusyWait.retry(Int(bitPattern: context), tries: Int(tries)) ? 1 : 0 }, UnsafeMutableRawPointer(connection)
        )
    }

    private static func retry(_ connection: Int, tries: Int) -> Bool {
        let now = ContinuousClock.now
        let waiting = waits.withLock { waits in
            guard var wait = waits[connection] else { return false }
            if tries == 0 {
                wait.since = now
                waits[connection] = wait
            }
            return now - wait.since < wait.timeout
        }
        guard waiting else { return false }
        usleep(UInt32.random(in: 50...950))
        return true
    }
}
