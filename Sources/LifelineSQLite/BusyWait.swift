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
    /// connection's own, so that each connection's wait starts at its own first try. A list,
    /// not a dictionary: a process has a few connections, and the first dictionary of a key
    /// type costs each start a scan of the runtime's conformance records.
    private static let waits = Mutex<[(connection: Int, wait: Wait)]>([])

    static func install(on connection: OpaquePointer, timeout: Duration) {
        let wait = Wait(timeout: timeout, since: .now)
        waits.withLock { waits in
            // A closed connection's address can come back for a new one.
            if let index = waits.firstIndex(where: { $0.connection == Int(bitPattern: connection) }) {
                waits[index].wait = wait
            } else {
                waits.append((Int(bitPattern: connection), wait))
            }
        }
        sqlite3_busy_handler(connection, handler, UnsafeMutableRawPointer(connection))
    }

    /// Runs `body` with no wait for a lock another connection holds: it is busy at once.
    static func withoutWaiting<T>(on connection: OpaquePointer, _ body: () throws -> T) rethrows -> T {
        sqlite3_busy_handler(connection, nil, nil)
        defer { sqlite3_busy_handler(connection, handler, UnsafeMutableRawPointer(connection)) }
        return try body()
    }

    private static let handler: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, tries in
        BusyWait.retry(Int(bitPattern: context), tries: Int(tries)) ? 1 : 0
    }

    private static func retry(_ connection: Int, tries: Int) -> Bool {
        let now = ContinuousClock.now
        let waiting = waits.withLock { waits in
            guard let index = waits.firstIndex(where: { $0.connection == connection }) else { return false }
            if tries == 0 { waits[index].wait.since = now }
            return now - waits[index].wait.since < waits[index].wait.timeout
        }
        guard waiting else { return false }
        usleep(UInt32.random(in: 50...950))
        return true
    }
}
