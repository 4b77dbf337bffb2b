import Foundation
import GRDB
import LifelineQueue

/// Reading `jobs` rows into ``Job``s. Columns are read by position, in the order of
/// ``columns``, which every query that decodes jobs selects, straight from the SQLite
/// statement: looking columns up by name, or copying rows into GRDB's `Row`, costs more than
/// the rest of the decoding on the claim and finish paths.
extension Job {
    static let columns = """
        id, queue, kind, args, state, priority, attempt, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms, \
        backoff_jitter, run_at, lease_owner, lease_expires_at, heartbeat_at, progress, result, errors, \
        idempotency_key, server, cancel_requested, created_at, attempted_at, finished_at
        """

    /// Runs `sql` (which selects or returns ``columns``) and decodes every row.
    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Job] {
        try decodeAll(RawStatement(db, sql, arguments: arguments))
    }

    static func fetchAll(_ db: Database, sql: String, values: [SQLValue]) throws -> [Job] {
        try decodeAll(RawStatement(db, sql, values))
    }

    /// The first row of `sql`, if any.
    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> Job? {
        try decodeFirst(RawStatement(db, sql, arguments: arguments))
    }

    static func fetchOne(_ db: some StatementSource, sql: String, values: [SQLValue]) throws -> Job? {
        try decodeFirst(RawStatement(db, sql, values))
    }

    /// The job holding an idempotency key, if any.
    static func fetch(_ db: some StatementSource, idempotencyKey key: String) throws -> Job? {
        try fetchOne(db, sql: "SELECT \(columns) FROM jobs WHERE idempotency_key = ?", values: [.text(key)])
    }

    private static func decodeAll(_ statement: RawStatement) throws -> [Job] {
        // A statement left mid-way would keep its read snapshot open.
        defer { statement.reset() }
        var jobs: [Job] = []
        while try statement.step() { jobs.append(try Job(statement)) }
        return jobs
    }

    private static func decodeFirst(_ statement: RawStatement) throws -> Job? {
        defer { statement.reset() }
        return try statement.step() ? try Job(statement) : nil
    }

    private init(_ row: RawStatement) throws {
        do {
            try self.init(decoding: row)
        } catch let error as DatabaseError {
            throw error
        } catch {
            // A value no write of Lifeline's makes (a flipped bit, a hand edit): the file is
            // damaged where no retry mends it, and the job is named, for it is only this row.
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "job \(row.int64(0))'s stored row cannot be read: \(error)")
        }
    }

    private init(decoding row: RawStatement) throws {
        // State and errors are matched as bytes: a claim decodes every row it takes, and
        // making a `String` of each cost more than the match.
        let state = try Self.state(row.utf8(4))
        let noErrors = row.utf8(18).elementsEqual("[]".utf8)
        self.init(
            id: row.int64(0),
            queue: row.text(1),
            kind: row.text(2),
            args: try JSONValue(parsing: row.text(3)),
            state: state,
            priority: Int(row.int64(5)),
            attempt: Int(row.int64(6)),
            maxAttempts: Int(row.int64(7)),
            timeout: .milliseconds(row.int64(8)),
            backoff: Backoff(base: .milliseconds(row.int64(9)), cap: .milliseconds(row.int64(10)), jitter: row.double(11)),
            runAt: Date(ms: row.int64(12)),
            leaseOwner: row.optionalText(13),
            leaseExpiresAt: row.optionalInt64(14).map(Date.init(ms:)),
            heartbeatAt: row.optionalInt64(15).map(Date.init(ms:)),
            progress: try row.optionalText(16).map(JSONValue.init(parsing:)),
            result: try row.optionalText(17).map(JSONValue.init(parsing:)),
            errors: noErrors ? [] : try LifelineJSON.decoder().decode([AttemptError].self, from: Data(row.text(18).utf8)),
            idempotencyKey: row.optionalText(19),
            server: row.optionalText(20),
            cancelRequested: row.int64(21) != 0,
            createdAt: Date(ms: row.int64(22)),
            attemptedAt: row.optionalInt64(23).map(Date.init(ms:)),
            finishedAt: row.optionalInt64(24).map(Date.init(ms:))
        )
    }

    /// Each state with its stored text; running first, the state of every row a claim returns.
    private static let stateTexts = ([JobState.running] + JobState.allCases.filter { $0 != .running }).map { ($0, Array($0.rawValue.utf8)) }

    private static func state(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JobState {
        guard let (state, _) = stateTexts.first(where: { $0.1.elementsEqual(bytes) }) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown job state '\(String(decoding: bytes, as: UTF8.self))'")
        }
        return state
    }
}
