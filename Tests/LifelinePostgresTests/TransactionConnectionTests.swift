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

    @Test("a write's commit that was sent but never answered is said as not known to have been made; a read's is not")
    func commitUnanswered() async throws {
        let url = try await TestPostgres.freshDatabase()
        _ = try await TestPostgres.psql(url, "CREATE TABLE public.marks (n int)")
        let proxy = try await TCPProxy(to: url)
        defer { proxy.stop() }
        let connection = BlockingConnection(location: try PostgresLocation(url: proxy.url), timeout: .seconds(1), logger: Logger(label: "test"))
        defer { connection.close() }
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
