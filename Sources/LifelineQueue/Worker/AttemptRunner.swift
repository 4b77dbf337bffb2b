import Foundation
import Logging

/// Where a worker's attempts run: in its own process, or in the runner processes of a pool.
public protocol AttemptRunner: Sendable {
    /// Starts one attempt and returns; `ended` is called once, on any thread, when it has ended
    /// (perhaps before this returns: a job kind without a handler, a stop already asked for),
    /// so the caller holds no lock that `ended` takes. No task waits for an attempt: a pool's
    /// writer runs none for the attempts it hands out.
    /// - Parameters:
    ///   - progress: called with each checkpoint the handler reports.
    ///   - onStop: called once the attempt has started, with what stops it (the worker stops
    ///     attempts that time out, are cancelled, lose their lease or are shut down); it may
    ///     come after `ended`, and does not come for an attempt that never started.
    ///   - heldUntil: when the attempt must stop unless ``hold(_:until:)`` moves it later.
    ///   - deadline: when it times out, counted by the worker from its claim: where it runs
    ///     outside the worker (a pool's runner process, a program's reaper), it is stopped then
    ///     too, however late it started there.
    func start(
        _ job: consuming Job, heldUntil: Date, deadline: Date, logger: Logger, progress: @escaping @Sendable (JSONValue) -> Void,
        onStop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void, ended: @escaping @Sendable (HandlerEnd) -> Void
    )

    /// The attempts' leases were renewed: they may run until `until` (their lease's end less
    /// the worker's margin) unless held longer. The worker stops those it cannot renew in time
    /// itself; a runner whose attempts run outside the worker's process stops them then on its
    /// own, so that a worker that stops answering (stopped, or starved) leaves no attempt
    /// running once another worker may take its job.
    func hold(_ keys: [AttemptKey], until: Date)

    /// Runs `start`, which starts one claim's attempts. A runner that spreads attempts over
    /// processes keeps a claim's together where it can, and sends them together, so that it
    /// wakes as few processes, as few times, as it can.
    func startingClaim(_ start: () -> Void)

    /// The worker, stopping, waits no longer for attempts that did not end once told to stop:
    /// a runner whose attempts run in processes of its own ends the processes that hold them
    /// (stopped, or wedged, they would never report them); in the worker's process there is
    /// nothing to end.
    func abandonUnended()
}

extension AttemptRunner {
    public func startingClaim(_ start: () -> Void) {
        start()
    }

    public func abandonUnended() {}
}
