import CLifelineSystem
import Foundation
import LifelineQueue

/// An advisory lock on a file (flock), shared or alone. Blocking: call it from a thread of its
/// own, never from the cooperative pool.
struct FileLock {
    /// How long a lock is waited for.
    enum Patience {
        /// Given up after this long, rather than wait for ever on a holder stuck in the kernel:
        /// for locks held a step at a time.
        case upTo(Duration)
        /// Waited for while the holder works, however long, until `cancellation` is set: for
        /// locks held through work that takes as long as its size.
        case untilCancelled(CancellationFlag)
    }

    let file: URL
    var patience: Patience = .upTo(.seconds(10))

    /// Runs `body` with the file open and locked; `body` gets its descriptor.
    func withLock<T>(exclusive: Bool, _ body: (Int32) throws -> T) throws -> T {
        try FileSystem.makeDirectory(file.deletingLastPathComponent())
        let descriptor = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StageCheckFailure(message: "cannot open \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while true {
            let wait: Duration
            switch patience {
            case .upTo(let limit): wait = limit
            // A second at a time, to see the stop between waits.
            case .untilCancelled: wait = .seconds(1)
            }
            switch lifeline_flock_deadline(descriptor, exclusive ? 0 : 1, wait.milliseconds) {
            case 0: return try body(descriptor)
            case ETIMEDOUT:
                guard case .untilCancelled(let cancellation) = patience else {
                    throw StageCheckFailure(message: "\(file.path) stayed locked for \(wait): its holder does not finish its step")
                }
                try cancellation.check()
            case let error: throw StageCheckFailure(message: "cannot lock \(file.path): \(String(cString: strerror(error)))")
            }
        }
    }
}
