import Foundation
import Synchronization

extension Worker {
    /// Renews running jobs' leases in one write per round, carrying their progress, and stops
    /// jobs that were cancelled or whose lease is gone. Rounds come every `progressInterval`;
    /// a round renews every lease once `renewalInterval` has passed since the last full one,
    /// and otherwise only writes the jobs whose progress changed.
    func heartbeatLoop() async {
        var lastFullRenewal = ContinuousClock.now
        // A renewal runs on its own, and the next waits for it: a store that does not answer
        // (a network cut off) must not hold up the expiry check, which stops jobs whose leases
        // may have run out before another host takes them.
        let gate = RenewalGate()
        var renewal: Task<Void, Never>?
        defer { renewal?.cancel() }
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: configuration.progressInterval)) != nil else { return }
            // A job whose lease may have run out without renewal could now run elsewhere.
            for key in running.expired(margin: configuration.renewalInterval / 2) {
                logger.error("lease not renewed in time; stopping the job", metadata: ["job": "\(key.id)"])
                running.stop(key, reason: .leaseLost)
            }
            guard gate.isOpen else { continue }
            let full = ContinuousClock.now - lastFullRenewal >= configuration.renewalInterval
            let entries = running.renewals(all: full)
            if full { lastFullRenewal = .now }
            guard !entries.isEmpty else { continue }
            gate.close()
            renewal = Task {
                await renew(entries)
                gate.open()
            }
        }
    }

    private func renew(_ entries: [LeaseRenewal.Entry]) async {
        let start = ContinuousClock.now
        do {
            let statuses = try await store.jobRenewLeases(LeaseRenewal(owner: configuration.owner, lease: configuration.lease, jobs: entries))
            // The statuses are about the attempts renewed, which may have finished since.
            let keys = entries.map { AttemptKey(id: $0.id, attempt: $0.attempt) }
            running.renewed(keys.filter { statuses[$0.id] != .lost }, at: start, lease: configuration.lease)
            for key in keys {
                switch statuses[key.id] {
                case .held?, nil: break
                case .cancelRequested?: running.stop(key, reason: .cancelled)
                case .lost?: running.stop(key, reason: .leaseLost)
                }
            }
        } catch {
            logger.error("lease renewal failed", metadata: ["error": "\(error)", "jobs": "\(entries.count)"])
        }
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
            do {
                for id in try await store.jobCancelRequested(Array(attempts.keys)) {
                    if let attempt = attempts[id] { running.stop(AttemptKey(id: id, attempt: attempt), reason: .cancelled) }
                }
            } catch {
                logger.error("cannot read cancel requests", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Open when no renewal is in flight.
private final class RenewalGate: Sendable {
    private let busy = Atomic(false)

    var isOpen: Bool { !busy.load(ordering: .acquiring) }
    func close() { busy.store(true, ordering: .releasing) }
    func open() { busy.store(false, ordering: .releasing) }
}
