import Foundation
import LifelineQueue
import LifelineRecovery

/// A stage whose job runs under a lease its worker stopped renewing (the worker died, is
/// stopped, or cannot write): the server looks busy, but nothing moves it until a worker's
/// next claim takes the job back. Said where the server would otherwise read as working.
enum StalledStage {
    /// Why the server's stage stands still; `nil` while its job is not running or its lease
    /// holds.
    static func reason(for server: ServerInfo) -> String? {
        guard let expired = server.stalledSince, let job = server.lifecycle.currentJob, let lease = server.currentJobLease
        else { return nil }
        return "its worker \(lease.owner) stopped renewing the lease of job \(job), which ran out at \(LifelineJSON.formatTime(expired)) "
            + "(it died, is stopped, or cannot write); a worker's next claim takes the job back (is one running? lifeline worker)"
    }
}
