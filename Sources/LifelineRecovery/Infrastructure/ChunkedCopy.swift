import CLifelineSystem
import Foundation
import LifelineQueue
import Synchronization

/// Copies a file in chunks, hashing the bytes as they pass, and records a checkpoint every
/// so often, so that a copy stopped by a crash, a kill or a failure continues where it was
/// instead of starting over. Every byte is read once: the checksum comes from the copy, not
/// from reading the result again (a resumed copy reads what was already copied once more).
struct ChunkedCopy {
    static let chunkSize = 4 << 20

    /// A throttled copy moves in smaller chunks, so its progress keeps flowing.
    var chunkSize: Int {
        guard let rate = throttle.bytesPerSecond, rate > 0 else { return Self.chunkSize }
        return Int(min(max(rate / 8, 64 << 10), Int64(Self.chunkSize)))
    }
    /// A checkpoint syncs the copy to disk: often enough that little is copied twice after a
    /// crash, rarely enough that the syncs do not set the pace.
    static let checkpointBytes: Int64 = 256 << 20
    static let checkpointInterval: Duration = .milliseconds(500)

    var source: URL
    var destination: URL
    /// Holds the number of bytes of `destination` known to be written and synced.
    var checkpoint: URL
    var throttle: Throttle
    /// The copy writes only inside its stage's fence: a newer attempt's entry waits for the
    /// chunk in hand, and refuses the next.
    var fence: StageFence
    /// Called before each chunk with its index in this run; throws to inject a failure.
    var beforeChunk: @Sendable (Int) throws -> Void

    /// Copies what is left, on a thread of its own, and returns the SHA-256 of the whole
    /// destination; `progress` gets the bytes safely copied so far (including earlier runs)
    /// at each checkpoint.
    func run(progress: @escaping @Sendable (Int64) -> Void) async throws -> String {
        let copy = self
        return try await BlockingWork.run { cancellation in try copy.copy(progress: progress, cancellation: cancellation) }
    }

    private func copy(progress: (Int64) -> Void, cancellation: CancellationFlag) throws -> String {
        let total = try FileSystem.size(source)
        var offset: Int64 = 0
        let output = try fence.hold { () throws -> FileHandle in
            if !FileSystem.exists(destination) { try FileSystem.createFile(destination) }
            offset = min(FileSystem.readCheckpoint(checkpoint), try FileSystem.size(destination))
            let output = try FileHandle(forUpdating: destination)
            do {
                // Bytes past the checkpoint may be torn: they are written again.
                try output.truncate(atOffset: UInt64(offset))
            } catch {
                try? output.close()
                throw error
            }
            return output
        }
        defer { try? output.close() }
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        // Hashing runs beside the writes, on a second thread: the copy takes as long as the
        // slower of the two, not their sum. Whatever happens, the thread is ended.
        let hasher = HashingThread()
        defer { _ = hasher.finish() }
        try output.seek(toOffset: 0)
        while case let data = try FileSystem.read(output, upTo: chunkSize), !data.isEmpty {
            try cancellation.check()
            hasher.add(data)
        }
        try input.seek(toOffset: UInt64(offset))
        progress(offset)
        var synced = offset
        var lastSync = ContinuousClock.now
        var syncFailed = false
        func sync() throws {
            guard offset > synced, !syncFailed else { return }
            do {
                try output.synchronize()
            } catch {
                // A failed sync may have lost the data: never checkpoint past it, even if a
                // later sync of the same file says all is well.
                syncFailed = true
                throw error
            }
            // The sync flushes this copy's own writes, outside the fence: a newer attempt's
            // entry waits for steps, never for the disk. The checkpoint is written inside it.
            try fence.hold { try FileSystem.writeCheckpoint(checkpoint, offset) }
            synced = offset
            lastSync = .now
            progress(offset)
        }
        var chunk = 0
        do {
            while offset < total {
                try cancellation.check()
                try beforeChunk(chunk)
                let written = try fence.hold { () throws -> Int in
                    let data = try FileSystem.read(input, upTo: chunkSize)
                    guard !data.isEmpty else { return 0 }
                    hasher.add(data)
                    try output.write(contentsOf: data)
                    // The disk starts on this chunk now; the next checkpoint's sync waits for less.
                    _ = lifeline_start_writeback(output.fileDescriptor, offset, Int64(data.count))
                    CrashPoint.check("copy.mid-chunk")
                    offset += Int64(data.count)
                    return data.count
                }
                guard written > 0 else { break }
                throttle.pace(bytes: Int64(written))
                if offset - synced >= Self.checkpointBytes || ContinuousClock.now - lastSync >= Self.checkpointInterval { try sync() }
                chunk += 1
            }
            try sync()
        } catch {
            // A failure or a stop keeps what was copied; only a crash loses the bytes since
            // the last checkpoint. A copy fenced off writes no checkpoint.
            try? sync()
            throw error
        }
        return hasher.finish()
    }
}

/// A SHA-256 computed on a thread of its own from the chunks handed to it, in order. At
/// most two chunks wait, so a slow hash holds the copy back rather than filling memory.
private final class HashingThread: @unchecked Sendable {
    private let lock = NSCondition()
    private var queue: [Data] = []
    private var closed = false
    private var digest: String?
    private let room = DispatchSemaphore(value: 2)

    init() {
        let thread = Thread { [self] in work() }
        thread.name = "lifeline-hash"
        thread.start()
    }

    func add(_ data: Data) {
        room.wait()
        lock.withLock {
            queue.append(data)
            lock.signal()
        }
    }

    /// The digest of everything added; waits for the hashing to catch up. Calling it again
    /// returns the same digest.
    func finish() -> String {
        lock.withLock {
            closed = true
            lock.broadcast()
            while digest == nil { lock.wait() }
            return digest!
        }
    }

    private func work() {
        var checksum = Checksum()
        while true {
            let next: Data? = lock.withLock {
                while queue.isEmpty && !closed { lock.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let data = next else { break }
            checksum.update(data)
            room.signal()
        }
        lock.withLock {
            digest = checksum.finalize()
            lock.broadcast()
        }
    }
}

/// Limits copies to a number of bytes per second, so stages take realistic time. One
/// throttle paces all the copies of a stage.
final class Throttle: Sendable {
    let bytesPerSecond: Int64?
    private let started = ContinuousClock.now
    private let copied = Mutex<Int64>(0)

    init(bytesPerSecond: Int64?) {
        self.bytesPerSecond = bytesPerSecond
    }

    /// Sleeps the calling thread (a copy's own) until the bytes so far are due.
    func pace(bytes: Int64) {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return }
        let copied = self.copied.withLock { total in
            total += bytes
            return total
        }
        let due = started + .milliseconds(copied * 1000 / bytesPerSecond)
        let wait = due - .now
        if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.milliseconds) / 1000) }
    }
}
