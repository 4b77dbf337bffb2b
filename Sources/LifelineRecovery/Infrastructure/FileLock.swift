import CLifelineSystem
import Foundation
import LifelineQueue

/// An advisory lock on a file (flock), shared or alone, that gives up after `patience` rather
/// than wait for ever on a holder stuck in the kernel. Blocking: call it from a thread of its
/// own, never from the cooperative pool.
struct FileLock {
    let file: URL
    var patience: Duration = .seconds(10)

    /// Runs `body` with the file open and locked; `body` gets its descriptor.
    func withLock<T>(exclusive: Bool, _ body: (Int32) throws -> T) throws -> T {
        try FileSystem.makeDirectory(file.deletingLastPathComponent())
        let descriptor = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StageCheckFailure(message: "cannot open \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        switch lifeline_flock_deadline(descriptor, exclusive ? 0 : 1, patience.milliseconds) {
        case 0: return try body(descriptor)
        case ETIMEDOUT: throw StageCheckFailure(message: "\(file.path) stayed locked for \(patience): its holder does not finish its step")
        case let error: throw StageCheckFailure(message: "cannot lock \(file.path): \(String(cString: strerror(error)))")
        }
    }
}
