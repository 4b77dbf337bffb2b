import Logging
import Synchronization

/// A worker's store failures as its loops meet them (claims, finishes, lease renewals, reads
/// of cancel requests), said once per outage: each kind's first failure is logged, its repeats
/// are counted, and its first success after says how many there were and for how long. A
/// database that is down otherwise filled the log with a line per loop per second.
final class StoreTrouble: Sendable {
    private struct Spell {
        var since: ContinuousClock.Instant
        var failures: Int
    }

    private let logger: Logger
    private let spells = Mutex<[String: Spell]>([:])
    /// How many kinds are failing: a success, which every claim and finish reports, looks no
    /// further while none is.
    private let failing = Atomic<Int>(0)

    init(logger: Logger) {
        self.logger = logger
    }

    /// `what` (e.g. "claim") failed; said only if it was not failing already.
    func failed(_ what: String, _ error: any Error, metadata: Logger.Metadata = [:]) {
        let first = spells.withLock { spells in
            defer { spells[what, default: Spell(since: .now, failures: 0)].failures += 1 }
            return spells[what] == nil
        }
        if first {
            failing.add(1, ordering: .relaxed)
            logger.error("\(what) failed; retrying (said again once it works)", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// `what` worked; said if it had been failing.
    func succeeded(_ what: String) {
        guard failing.load(ordering: .relaxed) > 0, let spell = spells.withLock({ $0.removeValue(forKey: what) }) else { return }
        failing.subtract(1, ordering: .relaxed)
        logger.notice(
            "\(what) works again",
            metadata: ["failures": "\(spell.failures)", "for": "\(DurationText.format(ContinuousClock.now - spell.since))"]
        )
    }
}
