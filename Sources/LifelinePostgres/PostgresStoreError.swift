import Foundation
import LifelineQueue
import PostgresNIO

/// Why a PostgreSQL store call failed, in words an operator can act on. Never holds a
/// password: locations are shown by their description.
public enum PostgresStoreError: Error, CustomStringConvertible {
    case unreachable(String, String)
    case refused(String, String, sqlState: String?)
    case connectionLost(String, String)
    /// The connection was lost after a commit was sent, before its answer came.
    case commitUnknown(String, String)
    case noAnswer(String, Duration)
    case newerSchema(String, version: Int, known: Int)
    case notInitialized(String)
    /// TLS as the URL asks for could not be set up: another try would fail the same way.
    case tlsFailed(String, String)
    /// What answers at the location speaks another protocol (a wrong port).
    case notPostgres(String)
    /// A writer has held the event log, between its events and its commit, for so long.
    case eventLogHeld(String, Duration)

    public var description: String {
        switch self {
        case .unreachable(let location, let reason): "cannot reach PostgreSQL at \(location): \(reason)"
        case .refused(let location, let reason, _): "PostgreSQL at \(location) refused the connection: \(reason)"
        case .connectionLost(let location, let reason): "lost the connection to PostgreSQL at \(location): \(reason)"
        case .commitUnknown(let location, let reason):
            "lost the connection to PostgreSQL at \(location) while committing (\(reason)): whether the change was made is not known; look before doing it again"
        case .noAnswer(let location, let timeout): "PostgreSQL at \(location) did not answer within \(timeout); the connection was dropped"
        case .newerSchema(let location, let version, let known):
            "the queue at \(location) has schema version \(version), newer than this lifeline knows (\(known)); upgrade lifeline"
        case .notInitialized(let location): "no Lifeline queue at \(location) (a write command creates it)"
        case .tlsFailed(let location, let reason): "no TLS connection to PostgreSQL at \(location): \(reason)"
        case .notPostgres(let location): "what answers at \(location) is not PostgreSQL: \(PostgresErrorText.notPostgres)"
        case .eventLogHeld(let location, let patience):
            "a writer to \(location) has held its event log for \(patience) without committing (a worker stopped or cut off mid-commit: PostgreSQL ends its transaction after \(PostgresSession.idleTransactionLimit) idle)"
        }
    }

    /// The part after the location, for a message that names the location itself.
    var reason: String {
        switch self {
        case .unreachable(_, let reason), .refused(_, let reason, _), .connectionLost(_, let reason): reason
        default: description
        }
    }

    /// Whether it passes by itself: the server could not be reached or stopped answering, or
    /// said it takes no connection now (starting up, shutting down, closed to connections,
    /// full); not a refusal of these credentials (SQLSTATE class 28) or of a database that does
    /// not exist, nor a schema this lifeline cannot use.
    public var isOutage: Bool {
        switch self {
        case .unreachable, .connectionLost, .noAnswer, .commitUnknown, .eventLogHeld: true
        case .refused(_, _, let sqlState): sqlState.map { !$0.hasPrefix("28") && $0 != "3D000" } ?? false
        case .newerSchema, .notInitialized, .tlsFailed, .notPostgres: false
        }
    }
}

/// An error the server reported for a statement, in its own words.
public struct PostgresStatementError: TransactionConflict, CustomStringConvertible {
    public let message: String
    public let sqlState: String?

    public var description: String { message }

    /// A deadlock (40P01) or a serialization failure (40001).
    public var isConflict: Bool { sqlState == "40P01" || sqlState == "40001" }
}
