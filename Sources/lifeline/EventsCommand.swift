import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the event log, oldest first; --follow keeps printing new events.",
        discussion: """
            Like tail -f, --follow starts with the last 10 events; --after, --since or --all \
            start earlier.

            Examples:
              lifeline events --after 10
              lifeline events --since 10m --server web-1
              lifeline events --follow --type discarded --json
            """
    )

    @Option(help: ArgumentHelp("Only events after this sequence number.", valueName: "SEQ"))
    var after: Int64?

    @Option(parsing: .unconditional, help: ArgumentHelp("Only events of the last D (e.g. 10m).", valueName: "D"))
    var since: String?

    @Flag(help: "Start from the first event (without --follow, the default too).")
    var all = false

    @Option(help: "Only events of this recovery server.")
    var server: String?

    @Option(help: "Only events of this type (repeatable).")
    var type: [EventType] = []

    @Option(help: "Only events of this job.")
    var job: Int64?

    @Flag(help: "Keep waiting for new events.")
    var follow = false

    @Option(help: "At most this many events, from where the list starts (default: all of them); the next page is --after the last one's number.")
    var limit: Int?

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    /// Events a follower starts with when not told where to start.
    static let followBacklog = 10

    func validate() throws {
        guard (after ?? 0) >= 0 else { throw ValidationError("--after must not be negative") }
        if let job { try JobIDs.check([job]) }
        // Each names where the list starts; given together, one would be dropped without a word.
        if all && (after != nil || since != nil) { throw ValidationError("--all starts from the first event: leave out --after and --since") }
        if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more, not \(limit)") }
        if limit != nil && follow { throw ValidationError("--limit ends the list, which --follow never does: use one of them") }
    }

    func run() async throws {
        if let server { try ServerNames.check(server) }
        let back = try since.map { try InputParsing.duration($0, flag: "--since") }
        var outage = StoreOutage(reading: "events")
        let opened = follow ? try await outage.open { try await store.openReader() } : try await store.openReader()
        let since = back.map { InputParsing.ago($0, in: opened.jobs) }
        var filter = EventFilter(afterSeq: after ?? 0, job: job, server: server, types: Set(type), since: since, limit: 1000)
        let output = Output.standardOutput
        let changes = Doorbell()
        // Without a change notice (inotify unavailable), the follower looks once a second.
        let watcher = follow ? try? opened.watchChanges(logger: CommandLogHandler.logger) { changes.ring() } : nil
        // A database file deleted or replaced would leave the follower reading the old one, silent for ever.
        let fileCheck = follow ? Task { await opened.exitIfReplaced(by: "follower") } : nil
        if follow { Output.endWhenReaderLeaves() }
        defer {
            fileCheck?.cancel()
            withExtendedLifetime(watcher) {}
        }
        // A follower's server may be yet to come: it hears of a name unknown so far at once.
        if follow { try await FilterHint.sayUnknown(queue: nil, server: server, in: opened) }
        // A number past the log's end (mistyped, or from another queue's log) shows nothing until
        // the log reaches it: said, with where the log ends.
        if let after, let newest = try? await opened.jobs.eventList(EventFilter(limit: 1, newestFirst: true)).first?.seq ?? 0, after > newest {
            Output.standardError.writeLine("lifeline: --after \(after) is past the log's last event (\(newest))" + (follow ? "; events after it will show as the log reaches it" : ""))
        }
        var printed = 0
        if follow && after == nil && since == nil && !all {
            var last = filter
            last.limit = Self.followBacklog
            last.newestFirst = true
            // Read the newest number first: nothing that lands in between is missed. An outage
            // here is waited out, as it is later.
            let newest = try await outage.open { try await opened.jobs.eventList(EventFilter(limit: 1, newestFirst: true)) }.first?.seq ?? 0
            last.afterSeq = 0
            let backlog = try await outage.open { try await opened.jobs.eventList(last) }
            for event in backlog.reversed() where event.seq <= newest { try print(event, to: output) }
            filter.afterSeq = newest
        }
        while true {
            let events: [JobEvent]
            if follow {
                guard let read = try await outage.read({ try await opened.jobs.eventList(filter) }) else { continue }
                events = read
            } else {
                events = try await opened.jobs.eventList(filter)
            }
            let shown = limit.map { Array(events.prefix($0 - printed)) } ?? events
            for event in shown { try print(event, to: output) }
            printed += shown.count
            filter.afterSeq = shown.last?.seq ?? filter.afterSeq
            if let limit, printed == limit {
                // A page ends here: the next one starts after it, if there is one.
                var next = filter
                next.limit = 1
                let more = shown.count < events.count ? true : try await !opened.jobs.eventList(next).isEmpty
                if more { Output.standardError.writeLine("lifeline: more events follow: the next page is --after \(filter.afterSeq)") }
                return
            }
            if events.count == filter.limit { continue }
            guard follow else {
                if printed == 0 {
                    // As the other lists say so: an empty answer is not left to look like a failure.
                    if !json { output.writeLine("no events match") }
                    try await FilterHint.sayUnknown(queue: nil, server: server, job: job, in: opened)
                }
                return
            }
            // New events show as soon as their commit lands; a missed notice costs a second.
            await changes.wait(timeout: .seconds(1))
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
            // A stage that leads to the next stage of the same state moves the server on
            // without changing its state.
            let move = from == to ? "\(to), next stage" : "\(from) → \(to)"
            output.writeLine("\(event.seq)  \(time)  \(server): \(move)  (\(cause)\(job))")
            return
        }
        let subject = [event.job.map { "job \($0)" }, event.server.map { "server \($0)" }].compactMap { $0 }.joined(separator: " ")
        let data = event.data == .object([:]) ? "" : "  " + TerminalText.json(event.data)
        output.writeLine("\(event.seq)  \(time)  \(event.type.rawValue)  \(subject)\(data)")
    }
}

extension EventType: ExpressibleByArgument {}
