import ArgumentParser
import LifelineQueue

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "List queues, limit how many of their jobs run at once, pause and resume them.",
        discussion: """
            Examples:
              lifeline queues list
              lifeline queues limit vm 5
              lifeline queues pause backup
            """,
        subcommands: [QueuesListCommand.self, QueuesLimitCommand.self, QueuesPauseCommand.self, QueuesResumeCommand.self]
    )
}

struct QueuesListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List queues with their limits and job counts.",
        discussion: "Example:\n  lifeline queues list --json"
    )

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let queues = try await store.openReader().queueList()
        let states = JobState.displayOrder
        try Output.standardOutput.writeList(queues, json: json, empty: "no queues yet") { queues in
            let rows = queues.map { queue in
                [queue.name, queue.paused ? "paused" : "active", queue.limit.map(String.init) ?? "-"]
                    + states.map { "\(queue.counts[$0] ?? 0)" }
            }
            return Table(headers: ["QUEUE", "STATUS", "LIMIT"] + states.map { $0.rawValue.uppercased() }, rows: rows)
        }
    }
}

struct QueuesLimitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limit", abstract: "Run at most N jobs of a queue at once, across all worker processes.",
        discussion: "Examples:\n  lifeline queues limit vm-create 5\n  lifeline queues limit vm-create none"
    )

    @Argument(help: "The queue.")
    var name: String

    @Argument(help: "The limit, or 'none' to remove it.")
    var limit: String

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try JobLimits.checkQueueName(name)
        let value: Int?
        if limit == "none" {
            value = nil
        } else if let number = Int(limit), number >= 0 {
            value = number
        } else {
            throw CLIFailure(.invalidInput, "limit must be a whole number ≥ 0 or 'none', not '\(limit)'")
        }
        try await store.openStore().queueSetLimit(name, limit: value)
        Output.standardOutput.writeLine("queue \(name): " + (value.map { "at most \($0) running at once" } ?? "no limit"))
    }
}

struct QueuesPauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop claiming a queue's jobs; running ones finish.",
        discussion: "Example:\n  lifeline queues pause backup"
    )

    @Argument(help: "The queue.")
    var name: String

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try JobLimits.checkQueueName(name)
        try await store.openStore().queueSetPaused(name, paused: true)
        Output.standardOutput.writeLine("queue \(name) paused")
    }
}

struct QueuesResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Claim a paused queue's jobs again.",
        discussion: "Example:\n  lifeline queues resume backup"
    )

    @Argument(help: "The queue.")
    var name: String

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try JobLimits.checkQueueName(name)
        try await store.openStore().queueSetPaused(name, paused: false)
        Output.standardOutput.writeLine("queue \(name) resumed")
    }
}
