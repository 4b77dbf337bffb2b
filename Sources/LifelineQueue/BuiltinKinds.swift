import Foundation

/// The kinds every Lifeline process knows besides the recovery stages.
public enum BuiltinKinds {
    public static func register(in registry: inout JobRegistry) {
        registry.register(noop)
        registry.register(sleep)
        registry.register(flaky)
        registry.register(exec)
    }

    /// No arguments; any fields given are carried along and ignored.
    public struct NoArgs: JobArgs {
        public static var acceptsAnyFields: Bool { true }
    }

    /// Does nothing and completes; takes any arguments (a job to try things with).
    public static let noop = JobDefinition(kind: "noop", args: NoArgs.self) { _, _ in nil }

    public struct SleepArgs: JobArgs {
        public var ms: Int64

        public func validate() throws(JobInputError) {
            guard ms >= 0 else { throw JobInputError("invalid args for 'sleep': ms must not be negative") }
        }
    }

    /// Sleeps `ms` milliseconds; cancellation wakes it at once.
    public static let sleep = JobDefinition(kind: "sleep", args: SleepArgs.self) { args, _ in
        try await Task.sleep(for: .milliseconds(args.ms))
        return .object(["slept_ms": .int(args.ms)])
    }

    public struct FlakyArgs: JobArgs {
        public var failTimes: Int

        enum CodingKeys: String, CodingKey { case failTimes = "fail_times" }

        public func validate() throws(JobInputError) {
            guard failTimes >= 0 else { throw JobInputError("invalid args for 'flaky': fail_times must not be negative") }
        }
    }

    /// Fails its first `fail_times` attempts, then succeeds: a way to watch retries.
    public static let flaky = JobDefinition(
        kind: "flaky", args: FlakyArgs.self, defaults: JobDefaults(backoff: Backoff(base: .milliseconds(100), cap: .seconds(10)))
    ) { args, context in
        let attempt = context.job.attempt
        guard attempt > args.failTimes else {
            throw FlakyFailure(attempt: attempt, failTimes: args.failTimes)
        }
        return .object(["attempts": .int(Int64(attempt))])
    }

    struct FlakyFailure: Error, CustomStringConvertible {
        var attempt: Int
        var failTimes: Int
        var description: String { "flaky failure \(attempt) of \(failTimes)" }
    }
}
