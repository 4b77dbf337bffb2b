import Foundation
import NIOSSL
import PostgresNIO

/// TLS to the database, as a URL's `sslmode` asks, in libpq's words and with its default:
/// `disable`, `prefer` (TLS when the server offers it; the default), `require` (TLS or no
/// connection; the certificate not checked), `verify-ca` (TLS to a server whose certificate
/// chains to the system's roots or to `sslrootcert=PATH`, whatever host it names), or
/// `verify-full` (that, and issued for the URL's host). Only `verify-full` keeps a password
/// from a machine in between: `verify-ca` trusts any host the roots vouch for, the others
/// whoever answers.
struct PostgresTLS: Sendable {
    enum Mode: String, CaseIterable, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let mode: Mode
    /// The certificate (PEM) the server's must chain to, for `verify-ca` and `verify-full`.
    let rootCertificate: String?

    /// Made when a connection is made: reading the system's roots costs a command's start.
    func configuration() throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable:
            return .disable
        case .prefer, .require:
            tls.certificateVerification = .none
        case .verifyCA, .verifyFull:
            tls.certificateVerification = mode == .verifyFull ? .fullVerification : .noHostnameVerification
            if let rootCertificate {
                guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                    throw PostgresLocationError("cannot read \(rootCertificate), the certificate sslrootcert names")
                }
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
                } catch {
                    throw PostgresLocationError("\(rootCertificate), which sslrootcert names, holds no PEM certificate")
                }
            }
        }
        let context = try NIOSSLContext(configuration: tls)
        return mode == .prefer ? .prefer(context) : .require(context)
    }
}
