import Foundation
import Logging
import Synchronization

/// Runs attempts' handlers in this process. A stop cancels the handler. One that ignores the
/// cancellation is reported after `cancellationGrace` and still waited for: its attempt ends
/// only when it does, so its job is never started again beside it (in a pool, the writer kills
/// the runner process instead; see ``RunnerPool``). The programs a handler runs are held as
/// its attempt is (see ``AttemptHolds``).
public struct InProcessRunner: AttemptRunner {
    let registry: JobRegistry
    let cancellationGrace: Duration
    private let holds = AttemptHolds()
    /// Where the handlers' tasks run; nil: the global executor.
    private var executor: (any TaskExecutor)?

    public init(registry: JobRegistry, cancellationGrace: Duration = WorkerConfiguration().cancellationGrace) {
        self.registry = registry
        self.cancellationGrace = cancellationGrace
    }

    /// This runner, with its handlers' tasks run by `executor`.
    func running(on executor: any TaskExecutor) -> InProcessRunner {
        var runner = self
        runner.executor = executor
        return runner
    }

    public func start(
        _ job: consuming Job, heldUntil: Date, deadline: Date, logger: Logger, progress: @escaping @Sendable (JSONValue) -> Void,
        onStop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void, ended: @escaping @Sendable (HandlerEnd) -> Void
    ) {
        guard let handle = registry.handler(job.kind) else {
            ended(.threwPermanent("unknown job kind '\(job.kind)': no handler in this worker"))
            return
        }
        let key = AttemptKey(id: job.id, attempt: job.attempt)
        let kind = job.kind
        holds.add(key, until: heldUntil, deadline: deadline)
        // The job and its context moved, not copied: a copy retains every one of its strings.
        let context = JobContext(job: consume job, logger: logger, progressSink: progress)
        let end = EndOnce { [holds] in
            holds.remove(key)
            ended($0)
        }
        // Each closure takes only what it uses: a capture of the whole job or context retains
        // every one of its strings, for every attempt.
        let handler = Task(executorPreference: executor) { [holds, context = consume context] in
            await AttemptHolds.$current.withValue(AttemptHolds.Held(holds: holds, key: key)) {
                do { end(.returned(try await handle(context.job.args, context))) } catch { end(HandlerEnd(error: error)) }
            }
        }
        onStop { [cancellationGrace] in
            handler.cancel()
            Task {
                guard (try? await Task.sleep(for: cancellationGrace)) != nil, !end.hasEnded else { return }
                JobContext.logger(logger, id: key.id, kind: kind, attempt: key.attempt).error(
                    "handler ignores its stop; its slot and its job's lease are held until it ends", metadata: ["grace": "\(cancellationGrace)"]
                )
            }
        }
    }

    /// The worker's own deadlines stop the handlers not held longer; their programs' reapers
    /// stop the programs, which a worker that stops answering cannot.
    public func hold(_ keys: [AttemptKey], until: Date) {
        holds.hold(keys, until: until)
    }
}

/// An attempt's `ended`, which the first of several racers calls (in a pool: the runner's
/// report, a stop while the attempt waits for a runner, the runner's death).
final class EndOnce: Sendable {
    private let ended: Mutex<(@Sendable (HandlerEnd) -> Void)?>

    init(_ ended: @escaping @Sendable (HandlerEnd) -> Void) {
        self.ended = Mutex(ended)
    }

    var hasEnded: Bool { ended.withLock { $0 == nil } }

    /// Ends the attempt with `end` unless it has ended.
    func callAsFunction(_ end: HandlerEnd) {
        ended.withLock { $0.take() }?(end)
    }
}
