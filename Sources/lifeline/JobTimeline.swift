import Foundation
import LifelineQueue

/// A job's life read from its events, in their order: when it was enqueued, each attempt with
/// its worker, start, end, duration and outcome, each retry by hand, and a cancel that found it
/// waiting.
struct JobTimeline {
    struct Attempt {
        var number: Int
        var worker: String
        var start: Date
        var end: Date?
        var outcome: String?
        /// Lost with its worker: it ended at some time before `end`, when its loss was recorded.
        var endsByEnd = false
    }

    enum Entry {
        case attempt(Attempt)
        /// Something that befell the job outside an attempt.
        case mark(String, Date, String)
    }

    var entries: [Entry] = []

    init(events: [JobEvent]) {
        // The attempt not yet ended, if any: where an end is recorded.
        var open: Int?
        var ran = false
        for event in events {
            switch event.type {
            case .enqueued:
                entries.append(.mark("enqueued", event.at, ""))
            case .started:
                ran = true
                open = entries.count
                entries.append(.attempt(Attempt(
                    number: Int(event.data["attempt"]?.intValue ?? 0), worker: event.data["worker"]?.stringValue ?? "?", start: event.at
                )))
            case .retried:
                entries.append(.mark("retried", event.at, "by hand: as many attempts again, numbered on"))
            case .completed, .retrying, .discarded, .cancelled, .released, .snoozed:
                guard let index = open, case .attempt(var attempt) = entries[index] else {
                    if event.type == .cancelled { entries.append(.mark("cancelled", event.at, ran ? "before it ran again" : "before it ran")) }
                    continue
                }
                open = nil
                let error = event.data["error"]?.stringValue
                attempt.end = event.at
                attempt.outcome = (event.type == .retrying ? "failed" : event.type.rawValue) + (error.map { ": \($0)" } ?? "")
                attempt.endsByEnd = error?.hasPrefix(OutcomeChange.expiredLeaseError) == true
                entries[index] = .attempt(attempt)
            case .cancelRequested, .pruned, .stateChanged, .stageIgnored:
                continue
            }
        }
    }

    /// - Parameter leaseExpired: when the running attempt's lease ran out, if it did: its
    ///   worker stopped renewing it, so the attempt is not timed past it.
    func lines(now: Date, leaseExpired: Date? = nil) -> [String] {
        entries.map { entry in
            switch entry {
            case .mark(let what, let at, let detail):
                return "  \(what.padding(toLength: 10, withPad: " ", startingAt: 0)) \(LifelineJSON.formatTime(at))" + (detail.isEmpty ? "" : "  \(detail)")
            case .attempt(var attempt):
                if attempt.end == nil, let leaseExpired {
                    attempt.end = leaseExpired
                    attempt.endsByEnd = true
                    attempt.outcome = "running, but its lease expired: its worker stopped renewing it"
                }
                let start = LifelineJSON.formatTime(attempt.start)
                // Never negative: a reader whose clock is behind the worker's, or a step of the
                // clock between an attempt's start and end, would make it so.
                let elapsed = max(Int64(((attempt.end ?? now).timeIntervalSince(attempt.start)) * 1000), 0)
                let duration = (attempt.endsByEnd ? "≤ " : "") + DurationText.format(.milliseconds(elapsed))
                let how = Table.cut(TerminalText.oneLine(attempt.outcome ?? "running"), to: 100)
                return "  attempt \(attempt.number)  \(start)  \(duration)  \(attempt.worker)  \(how)"
            }
        }
    }
}
