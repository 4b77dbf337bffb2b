import Foundation
import LifelineQueue

/// A job's life read from its events: when it was enqueued, each attempt with its worker,
/// start, end, duration and outcome, and each retry by hand.
struct JobTimeline {
    struct Attempt {
        var number: Int
        var worker: String
        var start: Date
        var end: Date?
        var outcome: String?
        /// Lost with its worker: it ended at some time before `end`, when its loss was recorded.
        var endsByEnd = false
        /// When it was retried by hand before this attempt: its numbers start again at 1.
        var retriedBefore: Date?
    }

    var enqueued: Date?
    var attempts: [Attempt] = []
    /// A retry by hand that no attempt has followed yet.
    var retried: Date?

    init(events: [JobEvent]) {
        for event in events {
            switch event.type {
            case .enqueued:
                enqueued = event.at
            case .started:
                attempts.append(Attempt(
                    number: Int(event.data["attempt"]?.intValue ?? 0), worker: event.data["worker"]?.stringValue ?? "?",
                    start: event.at, retriedBefore: retried
                ))
                retried = nil
            case .retried:
                retried = event.at
            case .completed, .retrying, .discarded, .cancelled, .released, .snoozed:
                guard let last = attempts.indices.last, attempts[last].end == nil else { continue }
                attempts[last].end = event.at
                let error = event.data["error"]?.stringValue
                attempts[last].outcome = (event.type == .retrying ? "failed" : event.type.rawValue) + (error.map { ": \($0)" } ?? "")
                attempts[last].endsByEnd = error?.hasPrefix(OutcomeChange.expiredLeaseError) == true
            case .cancelRequested, .pruned, .stateChanged, .stageIgnored:
                continue
            }
        }
    }

    func lines(now: Date) -> [String] {
        var lines = enqueued.map { ["  enqueued   \(LifelineJSON.formatTime($0))"] } ?? []
        let retriedLine = { (at: Date) in "  retried    \(LifelineJSON.formatTime(at))  by hand: attempts count from 1 again" }
        for attempt in attempts {
            if let retried = attempt.retriedBefore { lines.append(retriedLine(retried)) }
            let start = LifelineJSON.formatTime(attempt.start)
            let duration = (attempt.endsByEnd ? "≤ " : "")
                + DurationText.format(.milliseconds(Int64(((attempt.end ?? now).timeIntervalSince(attempt.start)) * 1000)))
            let how = Table.cut(TerminalText.oneLine(attempt.outcome ?? "running"), to: 100)
            lines.append("  attempt \(attempt.number)  \(start)  \(duration)  \(attempt.worker)  \(how)")
        }
        if let retried { lines.append(retriedLine(retried)) }
        return lines
    }
}
