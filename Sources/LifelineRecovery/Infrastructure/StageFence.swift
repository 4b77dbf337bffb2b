import Foundation
import LifelineQueue

/// The fence of a server's stages: the newest stage attempt that has acted on the server, as
/// its job and attempt numbers, in `infra/fences/NAME`. An attempt whose lease ran out can
/// still be running (on a stalled host, or stuck in the kernel) after its job was taken back
/// and the server's next attempt or stage has started. From the moment the newer one enters,
/// the fence refuses the older one's acts, so two attempts never act on a server at once.
/// Job ids grow, and so do a job's attempts: a later stage or attempt always carries a larger
/// token. The file outlives its server, so a stale attempt cannot act on a deleted one.
///
/// An attempt enters once, before it acts, and then acts step by step, each step holding the
/// fence shared. To enter, it first announces itself in `NAME.next`, under a lock held only
/// for that write: an older attempt's step in hand is then its last, and the entry, which
/// waits for it alone, is not starved by a copy's steps.
struct StageFence: Sendable {
    struct Token: Comparable, CustomStringConvertible, Sendable {
        var job: Int64
        var attempt: Int

        static func < (a: Token, b: Token) -> Bool { (a.job, a.attempt) < (b.job, b.attempt) }

        var description: String { "job \(job) attempt \(attempt)" }
    }

    let file: URL
    let server: String
    let token: Token

    private var announcement: URL { file.appendingPathExtension("next") }

    /// Records this attempt as the newest to act on the server, unless a newer one has
    /// entered or announced itself, and runs `body` (blocking).
    func enter<T>(_ body: () throws -> T) throws -> T {
        try FileLock(file: announcement).withLock(exclusive: true) { descriptor in
            try admit(Self.read(descriptor, announcement))
            try Self.write(token, descriptor, announcement)
        }
        return try FileLock(file: file).withLock(exclusive: true) { descriptor in
            try admit(Self.read(descriptor, file))
            try Self.write(token, descriptor, file)
            return try body()
        }
    }

    /// Runs `body` (blocking) if no newer attempt has entered or announced itself, holding the
    /// fence shared: a newer attempt's entry waits for it.
    func hold<T>(_ body: () throws -> T) throws -> T {
        try FileLock(file: file).withLock(exclusive: false) { descriptor in
            try admit(Self.read(descriptor, file))
            try admit(FileLock(file: announcement).withLock(exclusive: false) { try Self.read($0, announcement) })
            return try body()
        }
    }

    /// ``enter(_:)`` on a thread of its own.
    func enter<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run { _ in try enter(body) }
    }

    /// ``hold(_:)`` on a thread of its own.
    func hold<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run { _ in try hold(body) }
    }

    private func admit(_ recorded: Token?) throws {
        if let recorded, token < recorded { throw FencedOff(server: server, newer: recorded, stale: token) }
    }

    /// A record is one fixed-width line, written in place: a write cut short by a crash never
    /// leaves a shorter record, or none, behind.
    private static let recordLength = 32

    private static func read(_ descriptor: Int32, _ file: URL) throws -> Token? {
        var buffer = [UInt8](repeating: 0, count: recordLength)
        let count = pread(descriptor, &buffer, recordLength, 0)
        guard count >= 0 else { throw StageCheckFailure(message: "cannot read \(file.path): \(String(cString: strerror(errno)))") }
        if count == 0 { return nil }
        let fields = String(decoding: buffer.prefix(count), as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard count == recordLength, fields.count == 2, let job = Int64(fields[0]), let attempt = Int(fields[1]) else {
            throw StageCheckFailure(message: "\(file.path) does not hold a stage attempt (\(count) bytes); it was written by something else")
        }
        return Token(job: job, attempt: attempt)
    }

    /// The token as a record: its numbers, padded with spaces to the fixed width.
    static func record(_ token: Token) -> [UInt8] {
        let fields = "\(token.job) \(token.attempt)"
        return Array((fields + String(repeating: " ", count: max(recordLength - 1 - fields.utf8.count, 0)) + "\n").utf8)
    }

    private static func write(_ token: Token, _ descriptor: Int32, _ file: URL) throws {
        let record = record(token)
        guard record.count == recordLength, pwrite(descriptor, record, recordLength, 0) == recordLength, fsync(descriptor) == 0 else {
            throw StageCheckFailure(message: "cannot record the stage attempt in \(file.path): \(String(cString: strerror(errno)))")
        }
    }
}

/// An attempt refused by its server's fence: a newer one has acted on the server since, or
/// is about to.
struct FencedOff: Error, CustomStringConvertible {
    var server: String
    var newer: StageFence.Token
    var stale: StageFence.Token

    var description: String {
        "fenced off: \(newer) has entered server \(server) since this attempt (\(stale)) began; it acts no more"
    }
}
