import ArgumentParser
import LifelineQueue
import LifelineRecovery

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "List queues; limit, pause, resume them; set how long they keep finished jobs.",
        discussion: """
            Examples:
              lifeline queues list
              lifeline queues limit recovery.vm 5
              lifeline queues pause nightly
              lifeline queues pause reports --create   # a queue with no job yet
              lifeline queues resume nightly
              lifeline queues retain --all --completed 3d --failed 14d
            """,
        subcommands: [
            QueuesListCommand.self, QueuesLimitCommand.self, QueuesPauseCommand<Pause>.self, QueuesPauseCommand<Resume>.self,
            QueuesRetainCommand.self,
        ]
    )
}

struct QueuesListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List queues with their settings and job counts.",
        discussion: "Example:\n  lifeline queues list --json"
    )

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let queues = try await store.openReader().jobs.queueList()
        let states = JobState.displayOrder
        try Output.standardOutput.writeList(queues, json: json, empty: "no queues yet") { queues in
            let rows = queues.map { queue in
                [queue.name, queue.paused ? "paused" : queue.limit == 0 ? "held (limit 0)" : "active", queue.limit.map(String.init) ?? "-"]
                    + states.map { "\(queue.counts[$0] ?? 0)" }
                    + [queue.retainCompleted, queue.retainFailed].map { $0.map(DurationText.format) ?? "forever" }
            }
            let headers = ["QUEUE", "STATUS", "LIMIT"] + states.map { $0.rawValue.uppercased() } + ["KEEP COMPLETED", "KEEP FAILED"]
            return Table(headers: headers, rows: rows)
        }
    }
}

/// The queue a settings command changes: one that exists, or a recovery stage's queue, which
/// the lifecycle fills, unless `--create` is given. Without `--create`, nothing is created, not
/// even the database.
struct QueueTarget: ParsableArguments {
    @Argument(help: "The queue.")
    var name: String

    @Flag(help: "Configure the queue even if it has no jobs or settings yet.")
    var create = false

    @Flag(help: "Print the queue as it is now, as one JSON object (as queues list --json).")
    var json = false

    @OptionGroup var store: StoreOptions

    /// What makes a queue, and its database, that a settings command did not find.
    static let creatingHint = "--create makes it, with the queue"

    /// Applies `update`; returns the queue as it was just before (`nil` for a new one), so the
    /// command can say when it changed nothing, and with `--json`, as it is after.
    func update(_ update: QueueUpdate) async throws -> (before: QueueInfo?, after: QueueInfo?) {
        try JobLimits.checkQueueName(name, new: create)
        let create = create || Stage.isQueue(name)
        let jobs = try await store.openStore(creating: create, creatingHint: Self.creatingHint).jobs
        let before = try await jobs.queueList().first { $0.name == name }
        try await jobs.queueUpdate(name, update, create: create)
        return (before, json ? try await jobs.queueList().first { $0.name == name } : nil)
    }

    /// Says what the command did (`changed`: it changed the queue), or with `--json`, the
    /// queue as it is now.
    func say(_ text: String, changed: Bool, queue: QueueInfo?) throws {
        let output = Output.standardOutput
        if changed { Output.made(text) }
        if json, let queue { return try output.writeJSON(queue) }
        output.writeLine(text)
    }
}

struct QueuesLimitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limit", abstract: "Run at most N jobs of a queue at once, across all worker processes.",
        discussion: "Examples:\n  lifeline queues limit recovery.vm 5\n  lifeline queues limit recovery.vm none"
    )

    @OptionGroup var target: QueueTarget

    @Argument(help: "The limit, 0 to 1000000 (0 holds every job back, as a pause does), or 'none' to remove it.")
    var limit: String

    func run() async throws {
        let value: Int?
        if limit == "none" {
            value = nil
        } else if limit.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let number = Int(limit), (0...1_000_000).contains(number) {
            value = number
        } else {
            throw CLIFailure(.invalidInput, "limit must be a whole number from 0 to 1000000, or 'none', not '\(limit)'")
        }
        let (_, after) = try await target.update(QueueUpdate(limit: .some(value)))
        let text = switch value {
        case nil: "no limit"
        case 0?: "none of its jobs will run (like pause); 'none' removes the limit"
        case let limit?: "at most \(limit) running at once"
        }
        try target.say("queue \(target.name): \(text)", changed: true, queue: after)
    }
}

/// `queues pause` and `queues resume`: one command, told apart by its type parameter (a
/// subclass, for the reason given at ``ServerActionName``).
class QueuePausing {
    class var paused: Bool { fatalError("each command says") }
}

final class Pause: QueuePausing { override class var paused: Bool { true } }
final class Resume: QueuePausing { override class var paused: Bool { false } }

struct QueuesPauseCommand<Action: QueuePausing>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        Action.paused
            ? CommandConfiguration(
                commandName: "pause", abstract: "Stop claiming a queue's jobs; running ones finish.",
                discussion: "Examples:\n  lifeline queues pause nightly\n  lifeline queues pause reports --create   # a queue with no job yet"
            )
            : CommandConfiguration(
                commandName: "resume", abstract: "Claim a paused queue's jobs again.",
                discussion: "Example:\n  lifeline queues resume nightly"
            )
    }

    @OptionGroup var target: QueueTarget

    func run() async throws {
        let (before, after) = try await target.update(QueueUpdate(paused: Action.paused))
        let text = switch (Action.paused, (before?.paused ?? false) == Action.paused) {
        case (true, false): "paused"
        case (true, true): "was already paused"
        case (false, false): "resumed"
        case (false, true): "was not paused"
        }
        try target.say("queue \(target.name) \(text)", changed: (before?.paused ?? false) != Action.paused, queue: after)
    }
}

struct QueuesRetainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retain", abstract: "Set how long a queue keeps finished jobs before workers prune them.",
        discussion: """
            Workers delete finished jobs, with their events, once they are older than this: \
            completed ones after 7d and discarded or cancelled ones after 30d unless set here. \
            0 keeps them forever. Server history is always kept. Each worker looks when it \
            starts, then every 10 minutes; lifeline jobs prune deletes at once.

            Examples:
              lifeline queues retain recovery.finalize --completed 30d
              lifeline queues retain --all --completed 3d --failed 14d
            """
    )

    @Argument(help: "The queue (or --all).")
    var name: String?

    @Flag(help: "Every queue there is now, the recovery stages' six included.")
    var all = false

    @Flag(help: "Configure the queue even if it has no jobs or settings yet.")
    var create = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep completed jobs this long, up to \(DurationText.format(DurationText.maximum)) (0: forever).", valueName: "D"))
    var completed: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep discarded and cancelled jobs this long, up to \(DurationText.format(DurationText.maximum)) (0: forever).", valueName: "D"))
    var failed: String?

    @Flag(help: "Print each queue as it is now, one JSON object per line (as queues list --json).")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (name == nil) == all else {
            throw ValidationError(all ? "name a queue or give --all, not both" : "name a queue, or give --all for every queue")
        }
        guard completed != nil || failed != nil else { throw ValidationError("give --completed, --failed or both") }
        if all && create { throw ValidationError("--create goes with a queue's name") }
    }

    func run() async throws {
        let update = QueueUpdate(
            retainCompleted: try completed.map { try InputParsing.duration($0, flag: "--completed") },
            retainFailed: try failed.map { try InputParsing.duration($0, flag: "--failed") }
        )
        if let name { try JobLimits.checkQueueName(name) }
        let create = create || name.map(Stage.isQueue) == true
        let opened = try await store.openStore(creating: create, creatingHint: name == nil ? nil : QueueTarget.creatingHint)
        var names = [name].compactMap { $0 }
        // Every queue: the recovery stages' too, which the lifecycle fills whether or not they have a job yet.
        if all { names = Stage.knownQueues(try await opened.jobs.queueList().map(\.name)) }
        for name in names {
            try await opened.jobs.queueUpdate(name, update, create: create || Stage.isQueue(name))
        }
        let kept = [update.retainCompleted.map { "completed \(Self.text($0))" }, update.retainFailed.map { "failed \(Self.text($0))" }]
        let what = kept.compactMap { $0 }.joined(separator: ", ")
        let said = all && names.count != 1 ? "\(names.count) queues keep \(what)" : "queue \(names[0]) keeps \(what)"
        guard json else { return Output.standardOutput.writeChange(said) }
        Output.made(said)
        for queue in try await opened.jobs.queueList() where names.contains(queue.name) { try Output.standardOutput.writeJSON(queue) }
    }

    private static func text(_ duration: Duration) -> String {
        duration == .zero ? "forever" : DurationText.format(duration)
    }
}
