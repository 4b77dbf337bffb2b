import Foundation
import Logging
import Synchronization

/// Where a worker's attempts run: in its own process, or in the runner processes of a pool.
public protocol AttemptRunner: Sendable {
    /// Runs one attempt to its end.
    /// - Parameters:
    ///   - progress: called with each checkpoint the handler reports.
    ///   - onStop: called once the attempt has started, with what stops it (the worker stops
    ///     attempts that time out, are cancelled, lose their lease or are shut down).
    func run(
        _ job: Job, logger: Logger, progress: @escaping @Sendable (JSONValue) -> Void,
        onStop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void
    ) async -> HandlerEnd
}

/// Runs attempts' handlers in this process. A stop cancels the handler; one that ignores the
/// cancellation for `cancellationGrace` is reported and abandoned, so its slot and lease are
/// not held forever.
public struct InProcessRunner: AttemptRunner {
    let registry: JobRegistry
    let cancellationGrace: Duration
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

    public func run(
        _ job: Job, logger: Logger, progress: @escaping @Sendable (JSONValue) -> Void,
        onStop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void
    ) async -> HandlerEnd {
        guard let definition = registry.definition(job.kind) else {
            return .threwPermanent("unknown job kind '\(job.kind)': no handler in this worker")
        }
        let context = JobContext(job: job, logger: logger, progressSink: progress)
        return await withCheckedContinuation { (continuation: CheckedContinuation<HandlerEnd, Never>) in
            let once = ResumeOnce(continuation)
            let handler = Task(executorPreference: executor) {
                do { once.resume(.returned(try await definition.run(job.args, context: context))) } catch { once.resume(HandlerEnd(error: error)) }
            }
            onStop { [cancellationGrace] in
                handler.cancel()
                Task {
                    guard (try? await Task.sleep(for: cancellationGrace)) != nil else { return }
                    if once.resume(.abandoned) {
                        context.logger.error("handler ignores cancellation; abandoned it", metadata: ["grace": "\(cancellationGrace)"])
                    }
                }
            }
        }
    }
}

/// A continuation that the first of several racers resumes.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `value` unless already resumed; true if this call resumed.
    @discardableResult
    func resume(_ value: Value) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: value)
        return true
    }
}
