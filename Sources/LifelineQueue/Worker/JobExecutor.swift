import Foundation
import Logging
import Synchronization

/// Runs one attempt of a job: the handler, stopped when asked (the worker watches the
/// attempt's deadline), and turned into the outcome the store records.
struct JobExecutor: Sendable {
    let registry: JobRegistry
    let running: RunningJobs
    let cancellationGrace: Duration

    /// Runs the attempt. Returns `nil` when nothing may be recorded (the lease was lost).
    func execute(_ job: Job, logger: Logger) async -> JobOutcome? {
        guard let definition = registry.definition(job.kind) else {
            return .discarded(error: "unknown job kind '\(job.kind)': no handler in this worker")
        }
        let key = AttemptKey(id: job.id, attempt: job.attempt)
        let context = JobContext(job: job, logger: logger) { [running] progress in
            running.setProgress(key, progress)
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<HandlerResult, Never>) in
            let once = ResumeOnce(continuation)
            let handler = Task {
                let result: Result<JSONValue?, any Error>
                do { result = .success(try await definition.run(job.args, context: context)) } catch { result = .failure(error) }
                once.resume(.finished(result))
            }
            // A stop (timeout, cancel, shutdown, lost lease) cancels the handler; one that
            // ignores the cancellation for `cancellationGrace` is reported and abandoned, so
            // its slot and lease are not held forever.
            running.setStop(key) { [cancellationGrace] in
                handler.cancel()
                Task {
                    guard (try? await Task.sleep(for: cancellationGrace)) != nil else { return }
                    if once.resume(.abandoned) {
                        context.logger.error("handler ignores cancellation; abandoned it", metadata: ["grace": "\(cancellationGrace)"])
                    }
                }
            }
        }
        return outcome(of: result, job: job)
    }

    private enum HandlerResult: Sendable {
        case finished(Result<JSONValue?, any Error>)
        /// Cancelled, but still running after the grace: reported and left behind.
        case abandoned
    }

    private func outcome(of result: HandlerResult, job: Job) -> JobOutcome? {
        let reason = running.stopReason(AttemptKey(id: job.id, attempt: job.attempt))
        switch (result, reason) {
        case (_, .leaseLost):
            return nil
        case (.finished(.success(let value)), _):
            return .completed(result: value)
        case (_, .timeout):
            return .failed(error: "timed out after \(DurationText.format(job.timeout))")
        case (_, .cancelled):
            return .cancelled
        case (_, .shutdown):
            return .released
        case (.abandoned, nil):
            return .failed(error: "handler abandoned")
        case (.finished(.failure(let error)), nil):
            switch error {
            case JobFailure.permanent(let message): return .discarded(error: message)
            case JobFailure.retryAfter(let delay): return .snoozed(delay: delay)
            default: return .failed(error: String(describing: error))
            }
        }
    }
}

/// A continuation that the first of several racers resumes.
private final class ResumeOnce<Value: Sendable>: Sendable {
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
