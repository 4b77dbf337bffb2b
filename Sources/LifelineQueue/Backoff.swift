import Foundation

/// Exponential backoff with jitter and a cap: the delay before attempt `n + 1` after attempt
/// `n` failed is `min(cap, base · 2^(n-1))`, shortened at random by up to `jitter` of itself
/// so that jobs that failed together do not all come back together.
public struct Backoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    /// The fraction (0...1) of the delay that jitter may take off.
    public var jitter: Double

    public static let standard = Backoff(base: .seconds(1), cap: .seconds(3600), jitter: 0.2)

    /// Between tries of the store after it failed (a locked or full disk, a database that
    /// restarts). Capped at a second: what finished meanwhile waits for the next try, and a
    /// worker killed in that wait runs it again; one try a second is no load on a store.
    public static let storeRetry = Backoff(base: .milliseconds(100), cap: .seconds(1))

    public init(base: Duration, cap: Duration, jitter: Double = 0.2) {
        self.base = base
        self.cap = max(cap, base)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay after failed attempt `attempt` (1-based). `unit` is a random number in 0..<1.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        let baseMs = Double(base.milliseconds)
        let capMs = Double(cap.milliseconds)
        let exponent = Double(max(attempt, 1) - 1)
        let full = min(capMs, baseMs * pow2(exponent))
        let jittered = full * (1 - jitter * min(max(unit, 0), 1))
        return .milliseconds(Int64(jittered.rounded()))
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        delay(afterAttempt: attempt, unit: Double.random(in: 0..<1))
    }

    private func pow2(_ exponent: Double) -> Double {
        // 2^64 already exceeds any cap; stopping there keeps the product finite.
        exponent >= 64 ? .greatestFiniteMagnitude : Double(sign: .plus, exponent: Int(exponent), significand: 1)
    }
}

extension Date {
    /// The time `duration` after this one (before it, for a negative duration).
    public func adding(_ duration: Duration) -> Date {
        addingTimeInterval(Double(duration.milliseconds) / 1000)
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// This duration divided by `divisor` (1 to 9, so that a second's remainder in
    /// attoseconds fits in `Int64`). The standard library's `/` takes any `BinaryInteger` and
    /// is not specialized: a worker's deadlines divided its lease a few times per job, each a
    /// few hundred instructions of generic integer conversions.
    func divided(by divisor: Int64) -> Duration {
        let (seconds, attoseconds) = components
        let (quotient, remainder) = seconds.quotientAndRemainder(dividingBy: divisor)
        return Duration(secondsComponent: quotient, attosecondsComponent: (remainder * 1_000_000_000_000_000_000 + attoseconds) / divisor)
    }
}
