import Foundation
import LifelineQueue

/// Short texts about jobs, for tables and the lines commands print.
enum JobText {
    /// "1 job", "3 jobs".
    static func count(_ count: Int) -> String {
        count == 1 ? "1 job" : "\(count) jobs"
    }

    /// "job 4", "jobs 4 7 9".
    static func ids(_ ids: [Int64]) -> String {
        (ids.count == 1 ? "job " : "jobs ") + ids.sorted().map(String.init).joined(separator: " ")
    }

    /// "3 jobs: 4 7 9", with a run of three or more ids as "10-500", and at most
    /// ``countedShown`` of those: a count and its jobs in one short line however many there are
    /// (a batch's, a bulk retry's; `--json` lists them all).
    static func counted(_ ids: [Int64]) -> String {
        count(ids.count) + (ids.isEmpty ? "" : ": " + runs(ids))
    }

    /// The ids of ``counted(_:)`` without their count: "4 7 9 10-500".
    static func runs(_ ids: [Int64]) -> String {
        var runs: [String] = []
        var index = 0
        let sorted = ids.sorted()
        while index < sorted.count, runs.count < countedShown {
            var end = index
            while end + 1 < sorted.count, sorted[end] < .max, sorted[end + 1] == sorted[end] + 1 { end += 1 }
            if end - index >= 2 {
                runs.append("\(sorted[index])-\(sorted[end])")
            } else {
                runs += sorted[index...end].map(String.init)
            }
            index = end + 1
        }
        if index < sorted.count { runs.append("… (--json lists every one)") }
        return runs.joined(separator: " ")
    }

    static let countedShown = 20

    /// "2/20"; "2/∞" for the stages that never give up.
    static func attempts(_ job: Job) -> String {
        "\(job.attempt)/" + (job.maxAttempts == JobLimits.maxAttempts.upperBound ? "∞" : "\(job.maxAttempts)")
    }

    /// When a waiting job is due ("in 5s", or "3m ago" when it has been due that long), a
    /// running one started (and whether its lease ran out), and a finished one ended.
    static func when(_ job: Job, now: Date) -> String {
        if job.state.isWaiting && job.runAt > now {
            return "in " + roughly(job.runAt.timeIntervalSince(now), up: true)
        }
        let reference = job.state.isWaiting ? job.runAt : job.state == .running ? job.attemptedAt ?? job.createdAt : job.finishedAt ?? job.createdAt
        let ago = roughly(max(0, now.timeIntervalSince(reference))) + " ago"
        return leaseExpired(job, now: now) ? ago + ", lease expired" : ago
    }

    /// Seconds in their two largest units, as a table keeps a time short: "45s", "2h5m",
    /// "1121d17h". The rest is left out, or, `up`, counted as one more of the smaller unit, so
    /// that a job due in 1d23h59m is not said to be due sooner than it is.
    static func roughly(_ seconds: TimeInterval, up: Bool = false) -> String {
        let whole = Int64(up ? seconds.rounded(.up) : seconds)
        let units: [Int64] = [86_400, 3_600, 60, 1]
        let largest = units.firstIndex { whole >= $0 } ?? units.count - 1
        let kept = units[min(largest + 1, units.count - 1)]
        let count = up ? (whole + kept - 1) / kept : whole / kept
        return DurationText.format(.seconds(count * kept))
    }

    /// Whether a running job's lease has run out: its worker stopped renewing it (it died, or
    /// is stopped), and the next claim by any worker puts the job back in its queue.
    static func leaseExpired(_ job: Job, now: Date) -> Bool {
        job.state == .running && job.leaseExpiresAt.map { $0 < now } == true
    }
}
