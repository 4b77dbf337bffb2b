import Foundation
import PostgresNIO

/// An error from PostgreSQL or the network, in one line. postgres-nio's own description hides
/// everything (to keep data out of logs); this shows the server's message and SQLSTATE, or the
/// network's reason, and never a statement's bound values or a password.
public enum PostgresErrorText {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying {
            return network(underlying)
        }
        switch error.code {
        case .authMechanismRequiresPassword: return "it asks for a password: set PGPASSWORD (or give it in the URL)"
        case .serverClosedConnection: return "the server closed the connection"
        case .clientClosedConnection, .poolClosed: return "the connection was closed"
        case .connectionError: return "the connection failed"
        case .uncleanShutdown: return "the connection ended uncleanly"
        case .queryCancelled: return "the statement was cancelled"
        default: return "\(error.code)"
        }
    }

    /// A connection failure as the system names it ("Connection refused"), not NIO's dump.
    private static func network(_ error: any Error) -> String {
        // A closed connection can carry postgres-nio's error for why.
        if error is PSQLError { return describe(error) }
        if let failed = error as? NIOConnectionError {
            if let single = failed.connectionErrors.first { return network(single.error) }
            if let resolution = failed.dnsAAAAError ?? failed.dnsAError {
                // The resolver's reason ("Name or service not known"), not NIO's type name.
                let reason = (resolution as? SocketAddressError.UnknownHost)?.errorDescription ?? "\(resolution)"
                return "cannot resolve \(failed.host): \(reason)"
            }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}
