import Foundation
import Logging
import Synchronization

/// A worker's store failures as its loops meet them (claims, finishes, lease renewals, reads
/// of cancel requests), said once per outage and then once a minute: each kind's first failure
/// is logged, its repeats are counted (and said again while they last, so a failure that never
/// passes is not one line lost in the past), and the first success of any call after says which
/// failed, how often, and for how long. A database that is down otherwise filled the log with a
/// line per loop per second.
final class StoreTrouble: Sendable {
    private struct Spell {
        var since: ContinuousClock.Instant
        var failures: Int
        var writing: Bool
        /// When it was last said.
        var said: ContinuousClock.Instant
    }

    private let logger: Logger
    private let spells = Mutex<[String: Spell]>([:])
    /// How many kinds are failing: a success, which every claim and finish reports, looks no
    /// further while none is.
    private let failing = Atomic<Int>(0)
    private let isDamage: @Sendable (any Error) -> Bool
    /// How often a failure that lasts is said again.
    private let reminder: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    /// The first failure that said the database is damaged, and who is told of it.
    private let damaged = Mutex<(error: (any Error)?, onDamage: @Sendable () -> Void)>((nil, {}))

    init(
        logger: Logger, isDamage: @escaping @Sendable (any Error) -> Bool = { _ in false }, reminder: Duration = .seconds(60),
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.logger = logger
        self.isDamage = isDamage
        self.reminder = reminder
        self.clock = clock
    }

    /// Whether calls of `what` (e.g. "lease renewal") are failing now.
    func isFailing(_ what: String) -> Bool {
        spells.withLock { $0[what] != nil }
    }

    /// The failure that said the database is damaged, if one did.
    var damage: (any Error)? { damaged.withLock { $0.error } }

    /// Calls `action` once a failure says the database is damaged.
    func onDamage(_ action: @escaping @Sendable () -> Void) {
        damaged.withLock { $0.onDamage = action }
    }

    /// `what` (e.g. "claim"), a call made at `began`, failed; said only if it was not failing
    /// already. `writing`: it writes, as all but reads of cancel requests do. An outage is
    /// timed from the start of the first call it failed, not from the failure, which may come
    /// only when the call gives up waiting.
    func failed(_ what: String, writing: Bool = true, began: ContinuousClock.Instant, _ error: any Error, metadata: Logger.Metadata = [:]) {
        if isDamage(error) {
            let first = damaged.withLock { damaged -> (@Sendable () -> Void)? in
                guard damaged.error == nil else { return nil }
                damaged.error = error
                return damaged.onDamage
            }
            if let first {
                logger.critical("the database is damaged; stopping: no retry can work", metadata: ["while": "\(what)", "error": "\(Self.oneLine(error))"])
                first()
            }
            return
        }
        let now = clock()
        // The spell before this failure, and whether it is time to say it again.
        let (first, again) = spells.withLock { spells -> (Bool, Spell?) in
            guard var spell = spells[what] else {
                spells[what] = Spell(since: min(began, now), failures: 1, writing: writing, said: now)
                return (true, nil)
            }
            spell.failures += 1
            let due = now - spell.said >= reminder
            if due { spell.said = now }
            spells[what] = spell
            return (false, due ? spell : nil)
        }
        let said = metadata.merging(["error": "\(StoreTrouble.oneLine(error))"]) { $1 }
        if first {
            failing.add(1, ordering: .relaxed)
            logger.error("\(what) failed; retrying (said again once it works)", metadata: said)
        } else if let again {
            logger.error("\(what) still fails after \(DurationText.format(now - again.since)) (\(again.failures) failures); retrying", metadata: said)
        }
    }

    /// A call worked: the store answers again. Said once, for every kind that had been failing:
    /// a finish may be recorded by a claim's transaction, and a renewal come only later. A call
    /// that wrote nothing (a read, a claim that found no work) ends only the spells of reads:
    /// while writes fail (a full disk), those still work, and would say so once a second.
    func succeeded(writing: Bool = true) {
        guard failing.load(ordering: .relaxed) > 0 else { return }
        let ended = spells.withLock { spells in
            let ended = spells.filter { writing || !$0.value.writing }
            for key in ended.keys { spells[key] = nil }
            return ended
        }
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

    /// An error on one line: a SQLite error's description carries its statement, over lines.
    static func oneLine(_ error: any Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
