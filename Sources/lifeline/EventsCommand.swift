import ArgumentParser
import Foundation
import LifelineQueue

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the event log, oldest first; --follow keeps printing new events.",
        discussion: """
            Examples:
              lifeline events --after 1200
              lifeline events --follow --type discarded --json
            """
    )

    @Option(help: "Only events after this sequence number.")
    var after: Int64 = 0

    @Option(help: "Only events of this recovery server.")
    var server: String?

    @Option(help: "Only events of this type (repeatable): \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
    var type: [EventType] = []

    @Option(help: "Only events of this job.")
    var job: Int64?

    @Flag(help: "Keep waiting for new events.")
    var follow = false

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard after >= 0 else { throw ValidationError("--after must not be negative") }
    }

    func run() async throws {
        let jobStore = try store.openStore()
        var filter = EventFilter(afterSeq: after, job: job, server: server, types: Set(type), limit: 1000)
        let output = Output.standardOutput
        while true {
            let events = try await jobStore.eventList(filter)
            for event in events { try print(event, to: output) }
            filter.afterSeq = events.last?.seq ?? filter.afterSeq
            if events.count == filter.limit { continue }
            guard follow else { return }
            // New events show within a fifth of a second; the read is one indexed query.
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func print(_ event: JobEvent, to output: Output) throws {
        if json {
            try output.writeJSON(event)
            return
        }
        let time = LifelineJSON.formatTime(event.at)
        if event.type == .stateChanged, let server = event.server {
            let from = event.data["from"]?.stringValue ?? "-"
            let to = event.data["to"]?.stringValue ?? "(removed)"
            let cause = event.data["cause"]?.stringValue ?? ""
            let job = event.job.map { ", job \($0)" } ?? ""
            output.writeLine("\(event.seq)  \(time)  \(server): \(from) → \(to)  (\(cause)\(job))")
            return
        }
        let subject = [event.job.map { "job \($0)" }, event.server.map { "server \($0)" }].compactMap { $0 }.joined(separator: " ")
        let data = event.data == .object([:]) ? "" : "  " + event.data.canonicalText
        output.writeLine("\(event.seq)  \(time)  \(event.type.rawValue)  \(subject)\(data)")
    }
}

extension EventType: ExpressibleByArgument {}
