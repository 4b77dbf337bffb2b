import Foundation
import NIOSSL
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
        case .unexpectedBackendMessage, .messageDecodingFailure: return notPostgres
        default: return "\(error.code)"
        }
    }

    static let notPostgres = "it answers in another protocol (is the port right?)"

    /// Whether the other end does not speak PostgreSQL's protocol: a wrong port, which another
    /// try would find the same.
    static func isNotPostgres(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.code == .unexpectedBackendMessage || error.code == .messageDecodingFailure
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
        if let tls = tlsFailure(error) { return tls }
        if let tls = error as? NIOSSLError, let closed = closedMidSession(tls) { return closed }
        return "\(error)"
    }

    /// Why TLS as the URL asks for failed (a certificate not trusted, or not for the host, or
    /// sslrootcert unreadable), if that is what `error` is, however wrapped.
    static func tlsFailure(_ error: any Error) -> String? {
        switch error {
        case let location as PostgresLocationError:
            return location.description
        // A server with TLS off never offers it: as much a setting to change as a bad certificate.
        case let refused as PSQLError where refused.code == .sslUnsupported:
            return "the server does not offer TLS, which sslmode=require, verify-ca and verify-full ask for (its ssl setting is off)"
        case let garbled as PSQLError where garbled.code == .receivedUnencryptedDataAfterSSLRequest:
            return "the server agreed to TLS, then sent data that is no TLS (is it PostgreSQL?)"
        case let wrapped as PSQLError:
            return wrapped.underlying.flatMap(tlsFailure)
        case let connecting as NIOConnectionError:
            return connecting.connectionErrors.first.flatMap { tlsFailure($0.error) }
        case let extra as NIOSSLExtraError where extra == .failedToValidateHostname:
            return "its TLS certificate is not issued for this host name (sslmode=verify-full checks that it is)"
        case NIOSSLError.handshakeFailed(let reason) where "\(reason)".contains("CERTIFICATE_VERIFY_FAILED"):
            return "its TLS certificate is not trusted: it does not chain to the system's roots or to sslrootcert"
        // A connection closed mid-handshake, as a restarting server's is: the network's, and
        // waited out as an outage.
        case let closed as NIOSSLError where closedMidSession(closed) != nil:
            return nil
        case let failure as NIOSSLError:
            return "TLS failed: \(failure)"
        default:
            return nil
        }
    }

    /// A TLS session the other end closed before it was done, in words; nil for any other
    /// TLS failure.
    private static func closedMidSession(_ error: NIOSSLError) -> String? {
        switch error {
        case .uncleanShutdown: "the connection closed without ending its TLS session"
        case .handshakeFailed(let reason) where "\(reason)".contains("EOF"): "the connection closed during the TLS handshake"
        default: nil
        }
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Whether the server ended the session with this error (FATAL or PANIC: terminated by an
    /// administrator, shutting down, idle too long), rather than failed one statement.
    static func endsSession(_ error: PSQLError) -> Bool {
        guard let severity = error.serverInfo?[.severity] else { return false }
        return severity == "FATAL" || severity == "PANIC"
    }
}
