import Foundation
import LifelineQueue

/// Valid jobs to insert, with any field overridden.
public enum JobFixtures {
    public static func job(
        kind: String = "noop", args: JSONValue = [:], queue: String = "default", priority: Int = 5,
        maxAttempts: Int = 3, backoff: Backoff = Backoff(base: .seconds(1), cap: .seconds(60)), runAt: Date? = nil,
        key: String? = nil, server: String? = nil
    ) -> NewJob {
        NewJob(
            kind: kind, args: args, queue: queue, priority: priority, maxAttempts: maxAttempts, timeout: .seconds(30),
            backoff: backoff, runAt: runAt, idempotencyKey: key, server: server
        )
    }

    public static func claim(_ owner: String = "worker-a", queues: [String] = ["default"], limit: Int = 10,
                             lease: Duration = .seconds(30)) -> ClaimRequest {
        ClaimRequest(owner: owner, queues: queues, limit: limit, lease: lease)
    }
}
