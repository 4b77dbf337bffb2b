@testable import LifelinePostgres
import Testing

/// No server needed: where a location's password comes from, and that it never shows.
@Suite("PostgreSQL locations")
struct PostgresLocationTests {
    @Test("the URL's password comes first, then PGPASSWORD; an empty one is none, as libpq has it; none ever shows")
    func password() throws {
        let cases: [(url: String, environment: [String: String], password: String?)] = [
            ("postgres://u:secret@h/db", ["PGPASSWORD": "other"], "secret"),
            ("postgres://u@h/db", ["PGPASSWORD": "other"], "other"),
            ("postgres://u:@h/db", ["PGPASSWORD": "other"], "other"),
            ("postgres://u@h/db", ["PGPASSWORD": ""], nil),
            ("postgres://u:@h/db", [:], nil),
            ("postgres://u:p%40ss@h/db", [:], "p@ss"),
        ]
        for (url, environment, password) in cases {
            let location = try PostgresLocation(url: url, environment: environment)
            #expect(location.password == password, "\(url) \(environment)")
            #expect(location.description == "postgres://u@h:5432/db")
        }
    }

    @Test("an IPv6 address is given to the resolver without its brackets, and shown with them")
    func ipv6() throws {
        let location = try PostgresLocation(url: "postgres://u@[::1]:5433/db")
        #expect(location.host == "::1" && location.port == 5433)
        #expect(location.description == "postgres://u@[::1]:5433/db")
    }

    @Test("the database name is decoded once, as libpq decodes it")
    func databaseName() throws {
        #expect(try PostgresLocation(url: "postgres://u@h/db%2541").database == "db%41")
        #expect(try PostgresLocation(url: "postgres://u@h/my%20queue").database == "my queue")
    }

    @Test("two URLs name the same queue when server and database match, whoever connects")
    func sameDatabase() throws {
        let one = try PostgresLocation(url: "postgres://a:x@DB1:5432/q")
        #expect(one.sameDatabase(as: try PostgresLocation(url: "postgresql://b@db1/q")))
        #expect(!one.sameDatabase(as: try PostgresLocation(url: "postgres://a@db1/other")))
        #expect(!one.sameDatabase(as: try PostgresLocation(url: "postgres://a@db1:5433/q")))
    }

    @Test("a URL that means something else than one database of one server is refused, saying what is wrong, its password hidden", arguments: [
        ("postgres://u:pw@h", "has no database name (postgres://USER@HOST/DBNAME)"),
        ("postgres://u:pw@h/db/extra", "the path after the host is one database name, without '/' (postgres://USER@HOST/DBNAME)"),
        ("postgres://u:pw@h/db#replica", "a '#' part is not supported"),
        ("postgres://u:pw@h:70000/db", "port 70000 is not 1 to 65535"),
        ("postgres://:pw@h/db", "has no user (postgres://USER@HOST/DBNAME)"),
        ("postgres://u@h/db?password=pw", "options after '?' are not supported (password); sslmode and sslrootcert are"),
        ("postgres://u:pw@h/db?sslmode=allow", "sslmode must be disable, prefer, require, verify-ca, verify-full, not 'allow'"),
        // Text libpq would not take is never shown: it may be a secret in the wrong place.
        ("postgres://u@h/db?Secret-pw", "options after '?' are not supported (one libpq does not know either); sslmode and sslrootcert are"),
        ("postgres://u@h/db?pw=1&connect_timeout=5&pwd", "options after '?' are not supported (one libpq does not know either, connect_timeout); sslmode and sslrootcert are"),
        ("postgres://u@h/db?sslmode=pw-secret", "sslmode must be disable, prefer, require, verify-ca, verify-full"),
        ("postgres://u:pw@h/db?sslmode=require&sslrootcert=/r.pem", "sslrootcert goes with sslmode=verify-ca or verify-full, which check the server's certificate"),
        ("postgres://u:pw@h/db?sslmode=require&sslmode=disable", "sslmode is given twice"),
        ("postgres://u:p@w@h/db?sslpassword=pw#pw", "a '#' part is not supported"),
        ("postgres://u:pw?x@h/db", ""),
        ("postgres://u:pw%zz@h/db", "has a '%' that starts no escape (%XX); write a '%' as %25"),
        ("postgres://u%4:pw@h/db", "has a '%' that starts no escape (%XX); write a '%' as %25"),
        ("postgres://u:pw@h/db%", "has a '%' that starts no escape (%XX); write a '%' as %25"),
        ("postgres://u:pw@h/db%00", "has %00, a NUL, which no name or password holds"),
        ("postgres://u:pw%00x@h/db", "has %00, a NUL, which no name or password holds"),
        ("postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=", "sslrootcert is empty; it names a certificate file"),
    ])
    func refused(url: String, reason: String) throws {
        let error = try #require(throws: PostgresLocationError.self) { try PostgresLocation(url: url) }
        #expect(error.description.hasSuffix(reason) && !error.description.contains("pw"), "\(error)")
    }
}
