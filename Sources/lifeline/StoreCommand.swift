import ArgumentParser
import Foundation
import LifelinePostgres
import LifelineQueue
import LifelineRecovery

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move a queue between stores (SQLite files and PostgreSQL databases).",
        discussion: """
            Examples:
              lifeline store copy --from queue/lifeline.db --to postgres://ops@db1/queue
              lifeline store copy --from postgres://ops@db1/queue --to backup.db
            """,
        subcommands: [StoreCopyCommand.self]
    )
}

struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy every job, event, server, transition and queue setting, with their ids.",
        discussion: """
            Stop every worker and command that writes to the source first: at the end the copy \
            checks the target's counts against the source's as they were at the start, and fails \
            if they differ. The source is only read (one of an older schema is brought up to \
            date first, as by any command). The target keeps all of the copy or none of \
            it: a file target is built beside its path and moved into place at the end, and must \
            not exist yet (an empty file, as mktemp makes, is replaced); a PostgreSQL target must hold no jobs, and takes the copy in one \
            transaction. Either is refused with exit 3.

            Examples:
              lifeline store copy --from queue/lifeline.db --to postgres://ops@db1/queue
              lifeline store copy --from postgres://ops@db1/queue --to backup.db
            """
    )

    @Option(help: ArgumentHelp("The queue to copy: a file or a postgres:// URL.", valueName: "PATH|URL"))
    var from: String

    @Option(help: ArgumentHelp("Where to copy it: a file (created) or a postgres:// URL.", valueName: "PATH|URL"))
    var to: String

    @Flag(help: "Print the counts copied as JSON.")
    var json = false

    func validate() throws {
        for (flag, value) in [("--from", from), ("--to", to)] where value.isEmpty {
            throw ValidationError("\(flag) is empty: give a database file or a postgres:// URL")
        }
    }

    func run() async throws {
        let source = CopyEnd(db: from, dbFlag: "--from")
        let target = CopyEnd(db: to, dbFlag: "--to")
        let reader = try await source.openReader()
        if let sourceURL = try source.postgresLocation(), let targetURL = try target.postgresLocation(), sourceURL.sameDatabase(as: targetURL) {
            throw CLIFailure(.invalidInput, "--from and --to name the same queue (\(reader.location))")
        }
        let writer = try await target.openCopyTarget()
        let started = ContinuousClock.now
        let (rows, quiet) = (reader.copy, json)
        let copy = Task {
            var lastReport = started
            return try await StoreCopy.run(from: rows, to: writer.target) { jobs, events in
                // Long copies say how far they are, at most once a second.
                guard !quiet, ContinuousClock.now - lastReport >= .seconds(1) else { return }
                lastReport = .now
                Output.standardError.writeLine("copied \(jobs) jobs, \(events) events so far")
            }
        }
        // Ctrl-C or SIGTERM stops the copy between batches and drops what it wrote.
        let signals = SignalTrap { copy.cancel() }
        defer { withExtendedLifetime(signals) {} }
        let counts: CopyCounts
        do {
            counts = try await copy.value
        } catch where copy.isCancelled {
            // Whatever the store said of its interrupted statement (GRDB interrupts SQLite).
            throw CLIFailure(.runtime, "copy stopped by a signal; \(writer.location) is left as it was")
        } catch StoreCopyError.targetNotEmpty(let existing) {
            throw CLIFailure(.conflict, "\(writer.location) already holds a queue (\(existing)); copy into an empty one")
        } catch let lost as PostgresStoreError {
            // The target keeps nothing unless its commit lands; one whose answer was lost says so itself.
            guard case .commitUnknown = lost else { throw CLIFailure(.runtime, "\(lost.description); the copy stopped, and \(writer.location) is left as it was") }
            throw lost
        }
        Output.made("copied \(counts) from \(reader.location) to \(writer.location)")
        if json {
            try Output.standardOutput.writeJSON(counts)
        } else {
            let elapsed = DurationText.format(ContinuousClock.now - started)
            Output.standardOutput.writeLine("copied \(counts) from \(reader.location) to \(writer.location) in \(elapsed)")
        }
    }
}

/// One end of a copy: a store named by `--from` or `--to`, which its messages name.
private struct CopyEnd: StoreSelection {
    var db: String?
    var dbFlag: String
}
