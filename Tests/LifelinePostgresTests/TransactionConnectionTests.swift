import Foundation
@testable import LifelinePostgres
import LifelineTestKit
import Logging
import Testing

@Suite("A transaction's connection", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct TransactionConnectionTests {
    @Test("a connection lost inside a transaction is not replaced before it ends: nothing of it runs outside it")
    func lostInsideTransaction() async throws {
        let url = try await TestPostgres.freshDatabase()
        _ = try await TestPostgres.psql(url, "CREATE TABLE public.marks (n int)")
        let connection = BlockingConnection(location: try PostgresLocation(url: url), timeout: .seconds(10), logger: Logger(label: "test"))
        defer { connection.close() }
        connection.beginWithNext()
        try connection.query("INSERT INTO public.marks VALUES (1)")
        let pid = try connection.query("SELECT pg_backend_pid()")[0].decode(Int32.self)
        _ = try await TestPostgres.psql(url, "SELECT pg_terminate_backend(\(pid))")
        try await waitUntil("the client to see its connection closed") { !connection.isOpen }
        // The server rolled the transaction back: its next statement must not run on a new
        // connection, outside any transaction.
        #expect(throws: PostgresStoreError.self) { try connection.query("INSERT INTO public.marks VALUES (2)") }
        #expect(throws: PostgresStoreError.self) { try connection.pipeline(["INSERT INTO public.marks VALUES (3)", "COMMIT"]) }
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM public.marks") == "0")
        // The next transaction connects again.
        connection.beginWithNext()
        try connection.pipeline(["INSERT INTO public.marks VALUES (4)", "COMMIT"])
        #expect(try await TestPostgres.psql(url, "SELECT string_agg(n::text, ',') FROM public.marks") == "4")
    }

    @Test("a session asks PostgreSQL to end it once idle inside a transaction, so a process stopped mid-commit lets go of its locks")
    func idleTransactionLimit() async throws {
        let connection = BlockingConnection(location: try PostgresLocation(url: try await TestPostgres.freshDatabase()), timeout: .seconds(10), logger: Logger(label: "test"))
        defer { connection.close() }
        #expect(try connection.query("SHOW idle_in_transaction_session_timeout")[0].decode(String.self) == PostgresSession.idleTransactionLimit)
    }

    @Test("a connection given up on while it opens is closed when it comes, not dropped open (which postgres-nio forbids)")
    func lateConnection() async throws {
        let url = try await TestPostgres.freshDatabase()
        let proxy = try await TCPProxy(to: url)
        defer { proxy.stop() }
        proxy.pause()
        let connection = BlockingConnection(location: try PostgresLocation(url: proxy.url), timeout: .milliseconds(300), logger: Logger(label: "test"))
        defer { connection.close() }
        #expect(throws: PostgresStoreError.self) { try connection.query("SELECT 1") }
        proxy.resume()
        // The late connection opens and is closed at once: the server sees no session of it left.
        let database = String(url[url.index(after: url.lastIndex(of: "/")!)...])
        try await waitUntil("the late connection to be closed", timeout: .seconds(10)) {
            try await TestPostgres.psql(try #require(TestPostgres.url), "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'lifeline'") == "0"
        }
        // The next use, once its backoff has passed, connects again.
        try await waitUntil("a new connection", timeout: .seconds(10)) { (try? connection.query("SELECT 1"))?.count == 1 }
    }

    @Test("a write's commit that was sent but never answered is said as not known to have been made; a read's is not")
    func commitUnanswered() async throws {
        let url = try await TestPostgres.freshDatabase()
        _ = try await TestPostgres.psql(url, "CREATE TABLE public.marks (n int)")
        let proxy = try await TCPProxy(to: url)
        defer { proxy.stop() }
        let connection = BlockingConnection(location: try PostgresLocation(url: proxy.url), timeout: .seconds(1), logger: Logger(label: "test"))
        defer { connection.close() }
        // Connected first: under a busy suite, a connect alone can outlast the 1 s this test
        // gives an answer, and the connection retries it after a backoff.
        try await waitUntil("a first connection", timeout: .seconds(30)) { (try? connection.query("SELECT 1"))?.count == 1 }
        connection.beginWithNext()
        try connection.query("INSERT INTO public.marks VALUES (1)")
        proxy.pause()
        let error = try #require(throws: PostgresStoreError.self) { try connection.pipeline(["COMMIT"], committing: true) }
        proxy.resume()
        #expect("\(error)".hasSuffix("while committing (PostgreSQL at \(try PostgresLocation(url: proxy.url)) did not answer within 1.0 seconds; the connection was dropped): whether the change was made is not known; look before doing it again"), "\(error)")
        #expect(error.isOutage)
        // A read's transaction changes nothing: its end unanswered is no answer, not a doubt.
        connection.beginWithNext()
        _ = try connection.query("SELECT count(*) FROM public.marks")
        proxy.pause()
        let read = try #require(throws: PostgresStoreError.self) { try connection.pipeline(["COMMIT"]) }
        proxy.resume()
        #expect(!"\(read)".contains("not known") && "\(read)".contains("did not answer within"), "\(read)")
    }
}
