/// How fast a stage's progress moves, as its worker measures it: the rate over its last 10 s,
/// from readings kept at least a quarter of a second apart (a copy reports every chunk; a
/// reader sees a reading about once a second, and a rate taken between two would leap at each).
public struct ProgressRate: Sendable {
    private var kept: [(at: ContinuousClock.Instant, done: Int64)] = []
    private var latest: (at: ContinuousClock.Instant, done: Int64)?
    private static let window: Duration = .seconds(10)
    private static let spacing: Duration = .milliseconds(250)

    public init() {}

    /// Adds a reading. One that went back (a new stage, or a retry that starts over) starts over.
    public mutating func add(_ done: Int64, at now: ContinuousClock.Instant = .now) {
        if let last = latest, done < last.done { kept = [] }
        if latest?.done != done { latest = (now, done) }
        if kept.last.map({ now - $0.at >= Self.spacing }) ?? true { kept.append((now, done)) }
        while kept.count > 2, now - kept[0].at > Self.window { kept.removeFirst() }
    }

    /// Units a second, once the readings span half a second and moved forward.
    public var perSecond: Double? {
        guard let first = kept.first, let last = latest else { return nil }
        let seconds = Double((last.at - first.at).milliseconds) / 1000
        guard seconds >= 0.5, last.done > first.done else { return nil }
        return Double(last.done - first.done) / seconds
    }
}
