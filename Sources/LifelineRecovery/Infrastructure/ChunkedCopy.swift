import CLifelineSystem
import Foundation
import LifelineQueue
import Synchronization

/// Copies a file in chunks, hashing the bytes as they pass, and records a checkpoint every
/// so often, so that a copy stopped by a crash, a kill or a failure continues where it was
/// instead of starting over. Each chunk is read once, to be hashed, while the kernel copies
/// the same range: the checksum is of the bytes read for the copy, which is never read back
/// (a resumed copy reads what was already copied once more).
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
            let output = try FileSystem.openForWriting(destination)
            do {
                offset = min(FileSystem.readCheckpoint(checkpoint), Int64(try output.seekToEnd()))
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
        // Hashing runs beside the copying, on a second thread: the copy takes as long as the
        // slower of the two, not their sum. Whatever happens, the thread is ended.
        let hasher = HashingThread(chunkSize: chunkSize)
        defer { _ = hasher.finish() }
        try output.seek(toOffset: 0)
        while true {
            try cancellation.check()
            let buffer = hasher.buffer()
            let count = try FileSystem.read(output, into: buffer)
            guard count > 0 else { break }
            hasher.add(buffer, count: count)
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
                    let buffer = hasher.buffer()
                    let count = try FileSystem.read(input, into: buffer)
                    guard count > 0 else { return 0 }
                    hasher.add(buffer, count: count)
                    // The kernel copies the chunk while its bytes are hashed, as cp does: writing
                    // the bytes read back from this process ran at 0.57 to 0.73 of that rate here
                    // (1 GiB copies in C, each step the same but the write).
                    let failed = lifeline_copy_range(input.fileDescriptor, output.fileDescriptor, offset, Int64(count), buffer.baseAddress)
                    guard failed == 0 else { throw POSIXError(POSIXErrorCode(rawValue: failed) ?? .EIO) }
                    // The disk starts on this chunk now; the next checkpoint's sync waits for less.
                    _ = lifeline_start_writeback(output.fileDescriptor, offset, Int64(count))
                    CrashPoint.check("copy.mid-chunk")
                    offset += Int64(count)
                    return count
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
            throw FileSystem.naming(error, destination)
        }
        return hasher.finish()
    }
}

/// A SHA-256 computed on a thread of its own from the chunks handed to it, in order. The
/// chunks are read into a few buffers that go round between the copy and the hash, so a slow
/// hash holds the copy back rather than filling memory. They are reused, not allocated per
/// chunk: a fresh 4 MiB buffer is mapped and zeroed by the kernel at its first touch and
/// unmapped when freed, which cost a 1 GiB copy (in C) 1.3 to 3 s more system time here.
private final class HashingThread: @unchecked Sendable {
    private let lock = NSCondition()
    private var buffers: [UnsafeMutableRawBufferPointer]
    private var free: [UnsafeMutableRawBufferPointer]
    private var queue: [(buffer: UnsafeMutableRawBufferPointer, count: Int)] = []
    private var closed = false
    private var digest: String?

    init(chunkSize: Int) {
        buffers = (0..<3).map { _ in .allocate(byteCount: chunkSize, alignment: 64) }
        free = buffers
        let thread = Thread { [self] in work() }
        thread.name = "lifeline-hash"
        thread.start()
    }

    /// A buffer to read the next chunk into; waits while every buffer is being hashed. The
    /// one handed out before stays the caller's to read until this call.
    func buffer() -> UnsafeMutableRawBufferPointer {
        lock.withLock {
            while free.isEmpty { lock.wait() }
            return free.removeLast()
        }
    }

    /// Hashes the first `count` bytes of a buffer from `buffer()`, which then goes back round.
    func add(_ buffer: UnsafeMutableRawBufferPointer, count: Int) {
        lock.withLock {
            queue.append((buffer, count))
            lock.broadcast()
        }
    }

    /// The digest of everything added; waits for the hashing to catch up. Calling it again
    /// returns the same digest.
    func finish() -> String {
        lock.withLock {
            closed = true
            lock.broadcast()
            while digest == nil { lock.wait() }
            // The hashing has ended, and the copy asks for no more buffers.
            for buffer in buffers { buffer.deallocate() }
            buffers = []
            free = []
            return digest!
        }
    }

    private func work() {
        var checksum = Checksum()
        while true {
            let next = lock.withLock {
                while queue.isEmpty && !closed { lock.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let (buffer, count) = next else { break }
            checksum.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            lock.withLock {
                free.append(buffer)
                lock.broadcast()
            }
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
