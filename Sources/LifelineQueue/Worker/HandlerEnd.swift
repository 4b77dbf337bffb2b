import Foundation

/// How one run of a handler ended, in this process or in a pool's runner process. Together
/// with why the worker stopped the attempt, if it did, this decides the outcome recorded.
public enum HandlerEnd: Sendable, Hashable {
    /// The handler returned.
    case returned(JSONValue?)
    /// The handler threw: retry with backoff.
    case threw(String)
    /// The handler threw ``JobFailure/permanent(_:)``.
    case threwPermanent(String)
    /// The handler threw ``JobFailure/retryAfter(_:)``.
    case threwRetryAfter(Duration)
    /// Stopped before any process took the attempt: it never ran.
    case notStarted
    /// Stopped at its deadline where it ran (by a program's reaper, or a pool's runner process
    /// a margin past it), before its worker stopped it: a timeout, with what the program wrote last.
    case pastDeadline(output: String)
    /// The handler's program was stopped as its worker asked (a timeout, a cancel): what the
    /// program wrote last.
    case stopped(output: String)
    /// Stopped where it ran because its lease was not renewed in time (by a program's reaper,
    /// or a pool's runner process: its worker stopped answering): it has ended, and is
    /// recorded as a failed attempt, fenced, so only where no other attempt has taken the job.
    case unheld(String)
    /// The process running the handler died: nothing about the attempt can be known, so
    /// nothing is recorded and its lease runs out, as if the worker had died.
    case lost(String)

    /// An attempt the worker stopped before its handler started: recorded as the stop says (a
    /// timeout fails it, a cancel cancels it, a shutdown releases it). A timeout spends the
    /// attempt, or a job whose timeout is shorter than the worker's start could come back for ever.
    static let stoppedBeforeStart = HandlerEnd.threw("stopped before it started")

    init(error: any Error) {
        switch error {
        case JobFailure.permanent(let message): self = .threwPermanent(message)
        // Within the longest time a job can be set to wait, so that any delay is a time to come.
        case JobFailure.retryAfter(let delay): self = .threwRetryAfter(min(max(delay, .zero), DurationText.maximum))
        case let unheld as AttemptUnheld: self = .unheld(unheld.description)
        case let past as AttemptPastDeadline: self = .pastDeadline(output: past.output)
        case let stopped as ChildProcess.Stopped: self = .stopped(output: stopped.exit.quotedTail)
        // FileHandle's write and sync throw the system's errno as it is, naming no file (it
        // would also pass for a CocoaError, of that number).
        case let system as NSError where system.domain == NSPOSIXErrorDomain: self = .threw(String(cString: strerror(Int32(system.code))).lowercased())
        case let file as CocoaError: self = .threw(Self.describe(file))
        default: self = .threw(String(describing: error))
        }
    }

    /// Foundation's file errors print as `Error Domain=NSCocoaErrorDomain Code=640 …`: the
    /// file and the system's own words say the same in one line.
    private static func describe(_ error: CocoaError) -> String {
        let code = (error.underlying as? POSIXError)?.code.rawValue ?? (error.code == .fileWriteOutOfSpace ? ENOSPC : nil)
        let reason = code.map { String(cString: strerror($0)).lowercased() } ?? error.localizedDescription
        return (error.filePath ?? error.url?.path).map { "\($0): \(reason)" } ?? reason
    }

    /// The outcome to record, given why the worker stopped the attempt (nil: it did not);
    /// `nil` when nothing may be recorded.
    /// `leaseLoss`: why its lease was lost, when it was stopped for that.
    func outcome(stoppedFor reason: StopReason?, timeout: Duration, leaseLoss: String? = nil) -> JobOutcome? {
        switch (self, reason) {
        case (.lost, _):
            return nil
        case (.returned(let value), _):
            // Its work is done, even where the worker gave up the lease meanwhile (stopped, it
            // saw the program's end only after its lease's end here): the finish is fenced, so
            // it lands only if no other attempt has taken the job, and the job does not run again.
            return .completed(result: value)
        case (.notStarted, .cancelled?), (.unheld, .cancelled?):
            return .cancelled
        case (.notStarted, _):
            // It never ran (no process had room, e.g. while one restarts; its claim came back
            // too late): its deadline is not its fault, and it spends no attempt. Its lease
            // lost, the release is fenced: it lands only if no other attempt took the job.
            return .released
        case (.stopped(let output), .timeout?), (.pastDeadline(let output), nil), (.pastDeadline(let output), .leaseLost?),
             (.pastDeadline(let output), .timeout?):
            return .failed(error: "timed out after \(DurationText.format(timeout))" + (output.isEmpty ? "" : ": \(output)"))
        case (_, .timeout?):
            return .failed(error: "timed out after \(DurationText.format(timeout))")
        // Stopped, where it ran or here, because its lease could not be renewed in time (its
        // worker was stopped or starved): a failed attempt, as a lease that ran out is, recorded
        // at once rather than left running until it does. Fenced as every finish, it lands only
        // if no other attempt has taken the job meanwhile; it spends an attempt, so a job that
        // starves its own worker ends discarded, not given back for ever.
        case (.unheld(let why), _):
            return .failed(error: why)
        case (_, .leaseLost):
            return .failed(error: "stopped: its lease was not renewed in time (\(leaseLoss ?? "its worker stopped answering"))")
        case (_, .cancelled):
            return .cancelled
        case (_, .shutdown):
            return .released
        case (.threw(let message), nil):
            return .failed(error: message)
        case (.stopped(let output), nil):
            return .failed(error: "stopped" + (output.isEmpty ? "" : ": \(output)"))
        case (.threwPermanent(let message), nil):
            return .discarded(error: message)
        case (.threwRetryAfter(let delay), nil):
            return .snoozed(delay: delay)
        }
    }
}
