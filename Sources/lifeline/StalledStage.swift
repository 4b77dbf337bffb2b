import Foundation
import LifelineQueue
import LifelineRecovery

/// A stage whose job runs under a lease its worker stopped renewing (the worker died, is
/// stopped, or cannot write): the server looks busy, but nothing moves it until a worker's
/// next claim takes the job back. Said where the server would otherwise read as working.
enum StalledStage {
    /// Why the server's stage stands still; `nil` while its job is not running, its lease
    /// holds, or it cannot be read.
    static func reason(for server: ServerInfo, in jobs: any JobStore, now: Date = Date()) async -> String? {
        guard server.currentJobState == .running, let id = server.lifecycle.currentJob,
            let job = try? await jobs.jobGet(id), JobText.leaseExpired(job, now: now), let expired = job.leaseExpiresAt
        else { return nil }
        return "its worker \(job.leaseOwner ?? "?") stopped renewing the lease of job \(id) at \(LifelineJSON.formatTime(expired)) "
            + "(it died, is stopped, or cannot write); a worker's next claim takes the job back (is one running? lifeline worker)"
    }
}
