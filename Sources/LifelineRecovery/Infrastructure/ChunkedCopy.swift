import Foundation
import LifelineQueue

/// Copies a file in chunks, recording a checkpoint after each one, so that a copy stopped by
/// a crash, a kill or a failure continues where it was instead of starting over.
struct ChunkedCopy {
    static let chunkSize = 1 << 20

    var source: URL
    var destination: URL
    /// Holds the number of bytes of `destination` known to be written and synced.
    var checkpoint: URL
    var throttle: Throttle
    /// Called before each chunk with its index in this run; throws to inject a failure.
    var beforeChunk: (Int) throws -> Void

    /// Copies what is left; `progress` gets the bytes done so far (including earlier runs).
    func run(progress: (Int64) -> Void) async throws {
        let total = try FileSystem.size(source)
        if !FileSystem.exists(destination) { try FileSystem.createFile(destination) }
        var offset = min(FileSystem.readCheckpoint(checkpoint), try FileSystem.size(destination))
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        let output = try FileHandle(forWritingTo: destination)
        defer { try? output.close() }
        // Bytes past the checkpoint may be torn: they are written again.
        try output.truncate(atOffset: UInt64(offset))
        try input.seek(toOffset: UInt64(offset))
        progress(offset)
        var chunk = 0
        while offset < total {
            try Task.checkCancellation()
            try beforeChunk(chunk)
            let data = try input.read(upToCount: Self.chunkSize) ?? Data()
            guard !data.isEmpty else { break }
            try output.write(contentsOf: data)
            CrashPoint.check("copy.mid-chunk")
            try output.synchronize()
            offset += Int64(data.count)
            try FileSystem.writeCheckpoint(checkpoint, offset)
            progress(offset)
            try await throttle.pace(bytes: Int64(data.count))
            chunk += 1
        }
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
