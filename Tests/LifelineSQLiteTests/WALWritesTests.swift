import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

/// The WAL's writes are gathered into one system call (wal_writes.c): what is gathered must be
/// in the file before any connection is told of the commit it belongs to.
@Suite("SQLite WAL writes")
struct WALWritesTests {
    @Test("a claim of jobs whose arguments pass a statement journal's 1 MiB in memory goes through (its spill is written in pieces the VFS takes)")
    func largeArgumentsClaimed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: directory.path("lifeline.db")))
        let blob = JSONValue.string(String(repeating: "x", count: 500_000))
        let ids = try await store.jobInsert((0..<3).map { _ in JobFixtures.job(args: ["blob": blob]) }).map(\.job.id)
        let claimed = try await store.jobClaim(JobFixtures.claim(limit: 10)).jobs
        #expect(claimed.map(\.id) == ids && claimed.allSatisfy { $0.args["blob"] == blob })
    }

    @Test("each commit is read whole by another connection at once, with or without a sync at commit, in transactions larger than one gathered write")
    func commitsReadAtOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let reader = try SQLiteDatabase.openPool(path: path)
        // A connection of its own; with synchronous=NORMAL a commit syncs nothing, and only the
        // barrier before SQLite publishes it puts the gathered frames in the file.
        let writer = try DatabaseQueue(path: path)
        try await writer.write { try $0.execute(sql: "CREATE TABLE blobs (n INTEGER NOT NULL, data BLOB NOT NULL)") }
        var rows = 0
        var bytes = 0
        for synchronous in ["FULL", "NORMAL"] {
            try await writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            // From one page to many gathered writes (each at most 128 KiB) in one commit.
            for size in [10, 3_000, 70_000, 300_000, 2_000_000] {
                try await writer.write { db in
                    for n in 0..<4 { try db.execute(sql: "INSERT INTO blobs (n, data) VALUES (?, randomblob(?))", arguments: [n, size]) }
                }
                rows += 4
                bytes += 4 * size
                let seen = try await reader.read { db in
                    try Row.fetchOne(db, sql: "SELECT count(*) AS rows, coalesce(sum(length(data)), 0) AS bytes FROM blobs")!
                }
                #expect(seen["rows"] as Int == rows && seen["bytes"] as Int == bytes, "after \(size)-byte rows with synchronous=\(synchronous)")
            }
        }
        #expect(try await reader.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        try writer.close()
        try reader.close()
        // Reopened, the file and its WAL hold every commit.
        let reopened = try DatabaseQueue(path: path)
        #expect(try await reopened.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM blobs") } == rows)
    }
}
