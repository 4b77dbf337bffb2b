import Foundation
import PostgresNIO

/// Where a PostgreSQL queue lives: `postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME`. The
/// password comes from the URL or from `PGPASSWORD`, and is never part of ``description``,
/// which every message uses.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    public let database: String
    let password: String?
    let tls: PostgresTLS

    /// Whether `text` names a PostgreSQL database rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses a URL; `environment` supplies `PGPASSWORD` when the URL has no password.
    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        // Messages show the URL without its password, even when it does not parse.
        let shown = Self.redact(text)
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw PostgresLocationError("'\(shown)' is not a URL of the form postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME")
        }
        // Foundation reads a '%' that starts no escape as itself; libpq refuses it, and a
        // password so written is more likely mistyped than meant.
        guard !Self.hasStrayPercent(text) else {
            throw PostgresLocationError("'\(shown)' has a '%' that starts no escape (%XX); write a '%' as %25")
        }
        // A NUL ends a string in PostgreSQL's startup message: libpq refuses %00 too.
        guard !text.lowercased().contains("%00") else { throw PostgresLocationError("'\(shown)' has %00, a NUL, which no name or password holds") }
        guard let host = components.host, !host.isEmpty else { throw PostgresLocationError("'\(shown)' has no host") }
        guard let user = components.user, !user.isEmpty else { throw PostgresLocationError("'\(shown)' has no user (postgres://USER@HOST/DBNAME)") }
        // Decoded once, below: `path` is decoded already, and `%2541` would become `A`.
        let database = String(components.percentEncodedPath.dropFirst())
        guard !database.isEmpty else { throw PostgresLocationError("'\(shown)' has no database name (postgres://USER@HOST/DBNAME)") }
        guard !database.contains("/") else {
            throw PostgresLocationError("'\(shown)': the path after the host is one database name, without '/' (postgres://USER@HOST/DBNAME)")
        }
        // Dropped silently, it would leave a URL meant otherwise looking accepted.
        guard components.fragment == nil else { throw PostgresLocationError("'\(shown)': a '#' part is not supported") }
        let items = components.queryItems ?? []
        let unknown = items.map(\.name).filter { !["sslmode", "sslrootcert"].contains($0) }
        guard unknown.isEmpty else {
            // Named only when libpq knows the name: anything else may be a secret, misplaced.
            let named = unknown.map { Self.libpqOptions.contains($0) ? $0 : "one libpq does not know either" }
            let said = named.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            throw PostgresLocationError("'\(shown)': options after '?' are not supported (\(said.joined(separator: ", "))); sslmode and sslrootcert are")
        }
        for name in Set(items.map(\.name)) where items.filter({ $0.name == name }).count > 1 {
            throw PostgresLocationError("'\(shown)': \(name) is given twice")
        }
        let modeName = items.first { $0.name == "sslmode" }?.value ?? PostgresTLS.Mode.prefer.rawValue
        guard let mode = PostgresTLS.Mode(rawValue: modeName) else {
            let not = modeName == "allow" ? ", not 'allow'" : ""
            throw PostgresLocationError("'\(shown)': sslmode must be \(PostgresTLS.Mode.allCases.map(\.rawValue).joined(separator: ", "))\(not)")
        }
        let rootCertificate = items.first { $0.name == "sslrootcert" }?.value
        if let rootCertificate, rootCertificate.isEmpty { throw PostgresLocationError("'\(shown)': sslrootcert is empty; it names a certificate file") }
        if rootCertificate != nil, mode != .verifyCA, mode != .verifyFull {
            throw PostgresLocationError("'\(shown)': sslrootcert goes with sslmode=verify-ca or verify-full, which check the server's certificate")
        }
        tls = PostgresTLS(mode: mode, rootCertificate: rootCertificate)
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresLocationError("'\(shown)': port \(port) is not 1 to 65535")
        }
        // An IPv6 address keeps the URL's brackets in `host`; the resolver wants it bare.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        self.user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? user
        self.database = database.removingPercentEncoding ?? database
        // An empty one is none, as libpq has it: the server's request for one is then said plainly.
        let given = [components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, environment["PGPASSWORD"]]
        password = given.lazy.compactMap { $0 }.first { !$0.isEmpty }
    }

    /// The connection options libpq takes in a URL (PostgreSQL 17), which a message may name.
    private static let libpqOptions: Set<String> = [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth", "channel_binding", "connect_timeout",
        "client_encoding", "options", "application_name", "fallback_application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslnegotiation", "requiressl",
        "sslcompression", "sslcert", "sslkey", "sslpassword", "sslcertmode", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service",
        "target_session_attrs", "load_balance_hosts",
    ]

    private static func hasStrayPercent(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func isHex(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte | 0x20)
        }
        return bytes.indices.contains { index in
            bytes[index] == UInt8(ascii: "%") && !(index + 2 < bytes.count && isHex(bytes[index + 1]) && isHex(bytes[index + 2]))
        }
    }

    /// Whether both name the same database of the same server, whoever connects.
    public func sameDatabase(as other: PostgresLocation) -> Bool {
        (host.lowercased(), port, database) == (other.host.lowercased(), other.port, other.database)
    }

    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }

    func configuration() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: try tls.configuration()
        )
        configuration.options.connectTimeout = .seconds(5)
        // Every table is in the `lifeline` schema, so a database can hold other things too.
        configuration.options.additionalStartupParameters = [
            ("search_path", "lifeline"), ("application_name", "lifeline"),
            ("idle_in_transaction_session_timeout", PostgresSession.idleTransactionLimit),
        ]
        return configuration
    }

    /// `text` with anything between `//USER:` and `@` replaced, for messages about a URL that
    /// may not parse.
    static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        var shown = String(text[..<scheme.upperBound])
        var rest = text[scheme.upperBound...]
        // The last '@': a password may hold one unescaped, or a '?' or '#'.
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            shown += userInfo.firstIndex(of: ":").map { userInfo[..<$0] + ":***" } ?? String(userInfo)
            shown += "@"
            rest = rest[rest.index(after: at)...]
        }
        // Options and a fragment may carry secrets too (`?password=…`): their names are said
        // where it matters, their values never.
        guard let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) else { return shown + rest }
        return shown + rest[...cut] + "…"
    }
}

public struct PostgresLocationError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
