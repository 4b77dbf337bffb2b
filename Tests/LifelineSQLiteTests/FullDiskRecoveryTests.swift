import Foundation
import GRDB
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("A full or nearly full disk")
struct FullDiskRecoveryTests {
    @Test("under 8 MiB free each write begins with a checkpoint, so the WAL restarts rather than grows, and its file grown before is given back; after a full disk too")
    func walRestarts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let pool = try SQLiteDatabase.openPool(path: path)
        try pool.write { try $0.execute(sql: "CREATE TABLE ballast(b BLOB)") }
        func write(_ recovery: FullDiskRecovery, times: Int) throws {
            for _ in 0..<times {
                try pool.writeWithoutTransaction { db in
                    recovery.beforeWrite(db)
                    try db.inTransaction {
                        try db.execute(sql: "INSERT INTO ballast VALUES (zeroblob(16384))")
                        return .commit
                    }
                }
            }
        }
        let wal = { ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int) ?? 0 }
        try write(FullDiskRecovery(freeSpace: { _ in .max }), times: 50)
        let grown = wal()
        #expect(grown > 800 << 10, "with room, 50 writes of 16 KiB grow the WAL: \(grown)")
        let low = FullDiskRecovery(freeSpace: { _ in 1 << 20 })
        try write(low, times: 50)
        #expect(wal() < 100 << 10, "the WAL's file given back, then restarted at each write: \(wal()) after \(grown)")
        try write(FullDiskRecovery(freeSpace: { _ in .max }), times: 50)
        try pool.writeWithoutTransaction { db in low.struck(db) }
        #expect(wal() == 0, "the WAL's file given back")
        try write(low, times: 5)
        #expect(wal() > 0 && wal() < 100 << 10, "\(wal())")
    }
}
