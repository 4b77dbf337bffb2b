import ArgumentParser
import Foundation
import LifelineQueue
import LifelineSQLite

@main
struct Lifeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifeline",
        abstract: "A durable job queue on SQLite or PostgreSQL for disaster-recovery control planes.",
        discussion: """
            The queue lives in $LIFELINE_HOME/lifeline.db (LIFELINE_HOME defaults to ./queue), or \
            where --db or LIFELINE_DATABASE_URL says: a file, or postgres://USER@HOST/DBNAME.
            Exit codes: 0 ok, 1 runtime failure, 3 conflict, 4 not found, 64 invalid input.
            The commands' examples name what Scripts/demo.sh leaves in ./queue: server web-1, \
            queue nightly and its failed job.

            Example:
              lifeline enqueue sleep --args '{"ms": 500}'
              lifeline worker --concurrency 8 --drain
              lifeline jobs list --failed
            """,
        version: Lifeline.version,
        subcommands: [
            EnqueueCommand.self, WorkerCommand.self, ServerCommand.self, JobsCommand.self, EventsCommand.self, StatsCommand.self,
            QueuesCommand.self, StoreCommand.self, ServeCommand.self,
        ]
    )

    static let version = "0.6.0"

    /// The command line after the program's name, `--db` put after the command's name when it
    /// came before (see ``StoreOptions/placed(_:root:)``), `--help` first put last. Read first before the secrets in the
    /// process's own command line are hidden.
    static let arguments = helpFirst(StoreOptions.placed(Array(CommandLine.arguments.dropFirst()), root: Lifeline.self))

    /// `lifeline --help jobs list …` read as `lifeline jobs list … --help`: the help of the
    /// command named after it, where the parser gives the top one.
    static func helpFirst(_ arguments: [String]) -> [String] {
        guard let first = arguments.first, first == "--help" || first == "-h", arguments.count > 1, !arguments[1].hasPrefix("-") else { return arguments }
        return Array(arguments.dropFirst()) + [first]
    }

    /// Parses and runs the command; every failure ends as one line on stderr and the exit code
    /// of the CLI contract.
    static func main() async {
        // Everything Lifeline creates (database, infra files, directories) is owner-only.
        ProgramEnvironment.makeFilesPrivate()
        let arguments = Self.arguments
        // Arguments are text: bytes that are not UTF-8 would reach a job replaced (U+FFFD), not refused.
        let notText = (1..<max(Int(CommandLine.argc), 1)).first { CommandLine.unsafeArgv[$0].flatMap { String(validatingCString: $0) } == nil }
        ArgumentSecrets.hide()
        ArgumentSecrets.hideDatabaseURL()
        // A command a person waits for says why it seems to hang; workers and `serve` wait
        // their turn at the lock as part of their work.
        if !["worker", "serve"].contains(arguments.first) {
            SQLiteDatabase.onLongLockWait { holder, timeout in
                Output.standardError.writeLine(
                    "lifeline: waiting for the database: \(holder) holds \(holder.lock) (for up to \(DurationText.format(timeout)); LIFELINE_LOCK_TIMEOUT)"
                )
            }
        }
        do {
            if let notText {
                throw CLIFailure(.invalidInput, Self.notUTF8(argument: notText))
            }
            try StoreOptions.checkNamedOnce(arguments)
            try OptionRepeats.check(arguments, root: self)
            // A pool's runner process, started by its pool with exactly this command line.
            if arguments == WorkerCommand.runnerCommand {
                // On the main thread, whose name ps and top show.
                WorkerCommand.becomeRunner()
                try await WorkerCommand.serveRunner()
                return
            }
            // The commonest command in scripts skips the parser's reflection when it can, and
            // on SQLite runs on this thread alone (see EnqueueOptions.run); a worker's start skips it too.
            if let enqueue = EnqueueFastPath.options(arguments) {
                try await enqueue.run()
                return
            }
            if let worker = WorkerFastPath.options(arguments) {
                try await worker.run()
                return
            }
            // `help WORD` for a word that names no command is bad usage, not a wish for the top help.
            if arguments.first == "help", let unknown = CommandSuggestion.unknownCommand(in: Array(arguments.dropFirst()), root: self) {
                throw CLIFailure(.invalidInput, unknown)
            }
            var command = try parseAsRoot(arguments)
            if let missing = CommandSuggestion.missingCommand(type(of: command), in: arguments) {
                throw CLIFailure(.invalidInput, missing)
            }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // A word where a subcommand belongs fails the parse; say which, with the closest name.
            if let unknown = CommandSuggestion.unknownCommand(in: arguments, root: self) {
                Foundation.exit(CLIFailure.report(CLIFailure(.invalidInput, unknown), command: self))
            }
            Foundation.exit(CLIFailure.report(error, command: self))
        }
    }

    /// Where the bytes that are not UTF-8 are, as the command line reads: the option whose
    /// value they are (`--args`), or else the argument's place.
    static func notUTF8(argument index: Int) -> String {
        let text = { (index: Int) in CommandLine.unsafeArgv[index].map { String(cString: $0) } ?? "" }
        let word = text(index)
        if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
            return "\(word[..<equals]): its value is not UTF-8 text"
        }
        let previous = index > 1 ? text(index - 1) : ""
        let words = (1..<Int(CommandLine.argc)).map(text)
        if previous.hasPrefix("-"), previous != "--", !previous.contains("="), CommandSuggestion.takesValue(previous, in: words, root: self) {
            return "\(previous): its value is not UTF-8 text"
        }
        return "argument \(index) is not UTF-8 text: arguments must be UTF-8"
    }
}
