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
}
