import Logging
import Synchronization

/// A worker's store failures as its loops meet them (claims, finishes, lease renewals, reads
/// of cancel requests), said once per outage: each kind's first failure is logged, its repeats
/// are counted, and the first success of any call after says which failed, how often, and for
/// how long. A database that is down otherwise filled the log with a line per loop per second.
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

    /// A call worked: the store answers again. Said once, for every kind that had been failing:
    /// a finish may be recorded by a claim's transaction, and a renewal come only later.
    func succeeded() {
        guard failing.load(ordering: .relaxed) > 0 else { return }
        let ended = spells.withLock { spells in defer { spells = [:] }; return spells }
        guard let since = ended.values.map(\.since).min() else { return }
        failing.subtract(ended.count, ordering: .relaxed)
        logger.notice(
            "the store answers again",
            metadata: [
                "failed": "\(ended.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.failures)×" }.joined(separator: ", "))",
                "for": "\(DurationText.format(ContinuousClock.now - since))",
            ]
        )
    }
}
