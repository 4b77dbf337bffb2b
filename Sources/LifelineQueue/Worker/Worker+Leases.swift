import Foundation
import Logging

extension Worker {
    /// Renews running jobs' leases in one write per round, carrying their progress, and stops
    /// jobs that were cancelled or whose lease is gone. A round starts every `progressInterval`,
    /// or at once after one that took longer; it renews every lease when the next round would
    /// come more than `renewalInterval` after the last full one, and otherwise the jobs whose
    /// progress changed and those with less than two thirds of their lease left, which a full
    /// round does not leave (a slow claim's, a failed renewal's). The claim loop rings for an
    /// extra round of those after a slow claim. Jobs whose renewals do not get through are
    /// stopped by the deadline loop, which a store that does not answer (a network cut off)
    /// cannot hold up.
    func heartbeatLoop() async {
        var lastFullRenewal = ContinuousClock.now
        var round = ContinuousClock.now + configuration.progressInterval
        while !Task.isCancelled {
            await renewalBell.wait(timeout: round - .now)
            if Task.isCancelled { return }
            // Rung before the round: an extra one, which keeps the rounds' schedule.
            let due = ContinuousClock.now >= round
            // Full rounds at most `renewalInterval` apart, whatever the rounds' spacing: a
            // 4.5 s lease, rounds a second apart, is renewed every second, not every other.
            let full = due && round + configuration.progressInterval - lastFullRenewal > configuration.renewalInterval
            let entries = running.renewals(all: full, leaseEndingBefore: .now + configuration.renewalInterval * 2)
            if full { lastFullRenewal = round }
            if !entries.isEmpty { await renew(entries) }
            if due { round = max(round + configuration.progressInterval, .now) }
        }
    }

    private func renew(_ entries: [LeaseRenewal.Entry]) async {
        let start = ContinuousClock.now
        renewalUnderWay.withLock { $0 = start }
        defer { renewalUnderWay.withLock { $0 = nil } }
        do {
            let statuses = try await store.jobRenewLeases(LeaseRenewal(owner: configuration.owner, lease: configuration.lease, jobs: entries))
            trouble.succeeded()
            // The statuses are about the attempts renewed, which may have finished since.
            let keys = entries.map { AttemptKey(id: $0.id, attempt: $0.attempt) }
            let held = keys.filter { statuses[$0.id] != .lost }
            running.renewed(held, at: start, lease: configuration.lease)
            runner.hold(held, until: heldUntil(start + configuration.lease))
            for key in keys {
                switch statuses[key.id] {
                case .held?, nil: break
                case .cancelRequested?: running.stop(key, reason: .cancelled)
                case .lost?: stopForLostLeases([key], why: "its renewal reached the database after it had run out")
                }
            }
        } catch {
            // A stopping worker cancels its heartbeat; a renewal cut short then is no failure.
            guard !Task.isCancelled else { return }
            trouble.failed("lease renewal", began: start, error, metadata: ["jobs": "\(entries.count)"])
        }
    }

    /// Stops attempts whose leases are lost or about to be, keeping why for their errors.
    func stopForLostLeases(_ keys: [AttemptKey], why: String) {
        leaseLosses.withLock { losses in
            // An attempt that ended between the look that found it and this leaves its cause
            // behind: such are dropped here, with their attempts gone.
            losses = losses.filter { running.leaseEnd($0.key) != nil }
            for key in keys where losses[key] == nil { losses[key] = why }
        }
        for key in keys { running.stop(key, reason: .leaseLost) }
    }

    /// Why leases run out unrenewed, as the attempts' errors say it: this worker (stopped, or
    /// starved of a processor) when it looked late, else the database, when a renewal waits on
    /// it or keeps failing.
    func leaseLossCause(wokeLate: Duration) -> String {
        if wokeLate >= .milliseconds(250) { return "its worker was stopped or starved for \(DurationText.format(wokeLate))" }
        if let began = renewalUnderWay.withLock({ $0 }) {
            return "its renewal waited \(DurationText.format(.now - began)) for the database"
        }
        if trouble.isFailing("lease renewal") { return "its renewals failed: the database did not answer" }
        return "its worker stopped answering"
    }

    /// Why leases are running out unrenewed, for their log line: when the oldest was last
    /// renewed (or claimed), whether a renewal is still waiting for the store, and how late this
    /// process woke to look (on a starved machine, or a stopped process, all its timers are late).
    func leaseEndingMetadata(_ keys: [AttemptKey], wokeLate: Duration) -> Logger.Metadata {
        let now = ContinuousClock.now
        var metadata: Logger.Metadata = ["woke_late": "\(DurationText.format(max(wokeLate, .zero)))"]
        // One line for all the jobs an outage reaches at once, naming a few of them.
        metadata[keys.count == 1 ? "job" : "jobs"] = "\(LoggedIDs.text(keys.map(\.id)))"
        if let end = keys.compactMap({ running.leaseEnd($0) }).min() {
            metadata["renewed"] = "\(DurationText.format(now - (end - configuration.lease))) ago"
        }
        let renewal = renewalUnderWay.withLock { $0 }
        metadata["renewal"] = "\(renewal.map { "waiting for the store for \(DurationText.format(now - $0))" } ?? "none under way")"
        return metadata
    }

    /// Stops the jobs a user cancelled soon after the store changes, instead of at the next
    /// renewal, and looks at least once a second in case a change notice went missing.
    /// Changes come in bursts (every commit of every worker): one look per burst.
    func cancelWatchLoop() async {
        while !Task.isCancelled {
            await changeBell.wait(timeout: configuration.progressInterval)
            let attempts = running.attempts()
            if Task.isCancelled { return }
            guard !attempts.isEmpty else { continue }
            let began = ContinuousClock.now
            do {
                for id in try await store.jobCancelRequested(Array(attempts.keys)) {
                    if let attempt = attempts[id] { running.stop(AttemptKey(id: id, attempt: attempt), reason: .cancelled) }
                }
                trouble.succeeded(writing: false)
            } catch {
                guard !Task.isCancelled else { return }
                trouble.failed("reading cancel requests", writing: false, began: began, error)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
