import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Synchronization
import Testing

@Suite("Watching a database for other processes' commits")
struct ChangeWatcherTests {
    @Test("a commit's announcement wakes a watcher on its own, after the commit's writes were reported")
    func announcement() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, store) = try Self.store(in: directory)
        _ = try await store.jobInsert([JobFixtures.job()])
        let calls = Atomic(0)
        let watcher = try DatabaseChangeWatcher(databasePath: path) { calls.add(1, ordering: .relaxed) }
        // Nothing is written now: only the announcement can wake it, as when a commit's sync
        // outlasts the pause after its writes.
        DatabaseChangeWatcher.announceCommit(databasePath: path)
        try await waitUntil("the watcher to be told") { calls.load(ordering: .relaxed) > 0 }
        withExtendedLifetime(watcher) {}
    }

    @Test("a transaction that changes nothing is not announced: an idle worker's claim must not wake it again")
    func quietClaim() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, store) = try Self.store(in: directory)
        _ = try await store.queueUpdate("default", QueueUpdate(paused: false), create: true)
        // The first claim records where the host's wall clock stands (WallClockSteps), unless
        // its thread was preempted between its clocks' readings: then the next one does.
        try await waitUntil("the wall clock's offset to be recorded") {
            _ = try await store.jobClaim(JobFixtures.claim("w", queues: ["default"], limit: 4))
            var reading = Configuration()
            reading.readonly = true
            return try await DatabaseQueue(path: path, configuration: reading).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM wall_clock") } == 1
        }
        // That claim's announcement, within 10 ms of the commit before it, waits for the end of
        // that window: made now, not at some point during the look below.
        CommitAnnouncer.shared(for: path).announcePending()
        let before = try Self.statusChange(path + "-wal")
        _ = try await store.jobClaim(JobFixtures.claim("w", queues: ["default"], limit: 4))
        #expect(try Self.statusChange(path + "-wal") == before)
        _ = try await store.jobInsert([JobFixtures.job()])
        #expect(try Self.statusChange(path + "-wal") != before)
    }

    @Test("a burst of commits is announced at most once per window, and its last commit is announced after it")
    func burst() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, store) = try Self.store(in: directory)
        _ = try await store.jobInsert([JobFixtures.job()])
        let notices = Mutex<[ContinuousClock.Instant]>([])
        let watcher = try DatabaseChangeWatcher(databasePath: path) { notices.withLock { $0.append(.now) } }
        let start = ContinuousClock.now
        var commits = 0
        // When the last insert began: its announcement, at once or at the end of its window,
        // comes after. (Its end cannot be timed here: on a busy machine this task may resume
        // after the watcher has already been told.)
        var lastBegan = start
        while ContinuousClock.now - start < .milliseconds(100) || commits < 5 {
            lastBegan = .now
            _ = try await store.jobInsert([JobFixtures.job()])
            commits += 1
        }
        let lastCommit = ContinuousClock.now
        try await waitUntil("the burst's last commit to be announced") { notices.withLock { $0.last.map { $0 > lastBegan } ?? false } }
        let announced = notices.withLock { $0.filter { $0 >= start }.count }
        // One per window from the burst's first commit (or from the insert's before it, when
        // the burst begins within its window), and the one after the last; and the insert's
        // before the burst, which a busy watcher may record late. (Each commit
        // announced made 90 notices of 197 commits in 100 ms.)
        let windows = Int((lastCommit - start) / CommitAnnouncer.window)
        #expect(announced <= windows + 3, "\(announced) notices for \(commits) commits over \(lastCommit - start)")
        withExtendedLifetime(watcher) {}
    }

    @Test("a watcher let go removes its watch, which a process's exit would otherwise wait to free")
    func releasedWatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var watcher: DatabaseChangeWatcher? = try DatabaseChangeWatcher(databasePath: directory.path("lifeline.db")) {}
        var info = stat()
        #expect(stat(directory.url.path, &info) == 0)
        #expect(Self.watches(of: UInt64(info.st_ino)) == 1)
        withExtendedLifetime(watcher) {}
        watcher = nil
        #expect(Self.watches(of: UInt64(info.st_ino)) == 0)
    }

    /// How many of this process's inotify watches watch the file `inode` (/proc/self/fdinfo
    /// lists each watch of an inotify descriptor with its inode in hexadecimal).
    private static func watches(of inode: UInt64) -> Int {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fdinfo")) ?? []
        let named = "ino:\(String(inode, radix: 16)) "
        return descriptors.reduce(0) { count, fd in
            guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return count }
            return count + info.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") && $0.contains(named) }.count
        }
    }

    /// A store on a new database file in `directory`.
    private static func store(in directory: TemporaryDirectory) throws -> (path: String, store: SQLiteJobStore) {
        let path = directory.path("lifeline.db")
        return (path, SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: path)))
    }

    /// The file's ctime: any write to it or change of its times moves it.
    private static func statusChange(_ path: String) throws -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXError(.ENOENT) }
        return [info.st_ctim.tv_sec, info.st_ctim.tv_nsec]
    }
}
