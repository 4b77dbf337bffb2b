import Foundation
import LifelineQueue

/// Copies a file in chunks, hashing the bytes as they pass, and records a checkpoint every
/// so often, so that a copy stopped by a crash, a kill or a failure continues where it was
/// instead of starting over. Every byte is read once: the checksum comes from the copy, not
/// from reading the result again (a resumed copy reads what was already copied once more).
struct ChunkedCopy {
    static let chunkSize = 1 << 20
    /// A checkpoint syncs the copy to disk: often enough that little is copied twice after a
    /// crash, rarely enough that the syncs do not set the pace.
    static let checkpointBytes: Int64 = 64 << 20
    static let checkpointInterval: Duration = .milliseconds(250)

    var source: URL
    var destination: URL
    /// Holds the number of bytes of `destination` known to be written and synced.
    var checkpoint: URL
    var throttle: Throttle
    /// Called before each chunk with its index in this run; throws to inject a failure.
    var beforeChunk: (Int) throws -> Void

    /// Copies what is left and returns the SHA-256 of the whole destination; `progress`
    /// gets the bytes safely copied so far (including earlier runs) at each checkpoint.
    func run(progress: (Int64) -> Void) async throws -> String {
        let total = try FileSystem.size(source)
        if !FileSystem.exists(destination) { try FileSystem.createFile(destination) }
        var offset = min(FileSystem.readCheckpoint(checkpoint), try FileSystem.size(destination))
        let output = try FileHandle(forUpdating: destination)
        defer { try? output.close() }
        // Bytes past the checkpoint may be torn: they are written again.
        try output.truncate(atOffset: UInt64(offset))
        var checksum = Checksum()
        try output.seek(toOffset: 0)
        while let data = try output.read(upToCount: Self.chunkSize), !data.isEmpty { checksum.update(data) }
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        try input.seek(toOffset: UInt64(offset))
        progress(offset)
        var synced = offset
        var lastSync = ContinuousClock.now
        func sync() throws {
            guard offset > synced else { return }
            try output.synchronize()
            try FileSystem.writeCheckpoint(checkpoint, offset)
            synced = offset
            lastSync = .now
            progress(offset)
        }
        var chunk = 0
        do {
            while offset < total {
                try Task.checkCancellation()
                try beforeChunk(chunk)
                let data = try input.read(upToCount: Self.chunkSize) ?? Data()
                guard !data.isEmpty else { break }
                try output.write(contentsOf: data)
                checksum.update(data)
                CrashPoint.check("copy.mid-chunk")
                offset += Int64(data.count)
                if offset - synced >= Self.checkpointBytes || ContinuousClock.now - lastSync >= Self.checkpointInterval { try sync() }
                try await throttle.pace(bytes: Int64(data.count))
                chunk += 1
            }
            try sync()
        } catch {
            // A failure or a stop keeps what was copied; only a crash loses the bytes since
            // the last checkpoint.
            try? sync()
            throw error
        }
        return checksum.finalize()
    }
}

/// Limits copies to a number of bytes per second, so stages take realistic time. One
/// throttle paces all the copies of a stage.
final class Throttle {
    let bytesPerSecond: Int64?
    private let started = ContinuousClock.now
    private var copied: Int64 = 0

    init(bytesPerSecond: Int64?) {
        self.bytesPerSecond = bytesPerSecond
    }

    func pace(bytes: Int64) async throws {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return }
        copied += bytes
        let due = started + .milliseconds(copied * 1000 / bytesPerSecond)
        if due > .now { try await Task.sleep(until: due) }
    }
}
