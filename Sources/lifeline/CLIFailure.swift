import ArgumentParser
import Foundation
import LifelinePostgres
import LifelineQueue
import LifelineRecovery
import LifelineSQLite
import LifelineWeb

/// An error with its place in the CLI contract's exit codes.
struct CLIFailure: Error, CustomStringConvertible {
    enum Code: Int32 {
        case runtime = 1
        case conflict = 3
        case notFound = 4
        case invalidInput = 64
    }

    var code: Code
    var description: String
    /// Why, when it is another error in the CLI's words: for a caller that acts on the cause.
    var cause: (any Error)?

    init(_ code: Code, _ description: String, cause: (any Error)? = nil) {
        self.code = code
        self.description = description
        self.cause = cause
    }

    /// Exit 4 naming the ids that name no job, and why an id a job had may name none now.
    static func noJob(_ ids: [Int64]) -> CLIFailure {
        CLIFailure(.notFound, Job.missingText(ids))
    }

    /// A store's failure in an operator's words (a damaged file, a full disk, PostgreSQL out of
    /// reach), or nil when `error` is none: the CLI's message, and the API's for a 503.
    static func storeFailure(_ error: any Error) -> String? {
        switch error {
        case let open as DatabaseOpenError: open.description
        case let postgres as PostgresStoreError: postgres.description
        case let statement as PostgresStatementError: "PostgreSQL: \(statement.description)"
        default: StoreErrorText.describe(error)
        }
    }

    /// Writes one line for the error to stderr and returns the process's exit code.
    static func report(_ error: any Error, command: any ParsableCommand.Type) -> Int32 {
        let (code, message): (Int32, String) = switch error {
        case let failure as CLIFailure: (failure.code.rawValue, failure.description)
        case let input as JobInputError: (Code.invalidInput.rawValue, input.message)
        case JobStoreError.unknownQueue(let name, let known):
            (Code.notFound.rawValue, "\(Stage.unknownQueue(name, storeKnows: known)) (--create configures a queue ahead of its first job)")
        case let conflict as JobStoreError: (Code.conflict.rawValue, conflict.description)
        // A directory where the database belongs is a wrong --db or LIFELINE_HOME.
        case DatabaseOpenError.directory, DatabaseOpenError.notRegularFile: (Code.invalidInput.rawValue, "\(error)")
        case let busy as any StoreBusy: (Code.runtime.rawValue, busy.description)
        // No such database on the server: as no database file, there is no queue there (exit 4).
        case PostgresStoreError.refused(_, _, sqlState: "3D000"): (Code.notFound.rawValue, "\(error)")
        case let refused as LifecycleError: (Code.conflict.rawValue, refused.description)
        // A copy whose counts differ failed; any other refusal is of its target (exit 3).
        case StoreCopyError.countsDiffer: (Code.runtime.rawValue, "\(error)")
        case let refused as StoreCopyError: (Code.conflict.rawValue, refused.description)
        case ServerStoreError.notFound: (Code.notFound.rawValue, "\(error)")
        case let server as ServerStoreError: (Code.conflict.rawValue, server.description)
        case is CancellationError: (Code.runtime.rawValue, "interrupted")
        case let listen as ListenError: (Code.runtime.rawValue, listen.description)
        case let other where storeFailure(other) != nil: (Code.runtime.rawValue, storeFailure(other)!)
        default: argumentParserReport(error, command: command)
        }
        if code == 0 {
            Output.standardOutput.writeLine(message)
        } else if !message.isEmpty {
            Output.standardError.writeLine("lifeline: \(TerminalText.escaped(message))")
        }
        return code
    }

    /// Help and version requests print in full; usage errors become one line.
    private static func argumentParserReport(_ error: any Error, command: any ParsableCommand.Type) -> (Int32, String) {
        let code = command.exitCode(for: error).rawValue
        // Laid out for 80 columns at least: on a narrower terminal an example wraps where the
        // terminal wraps it, not at a newline of its own, and pastes whole.
        let columns = max(Output.standardOutput.width ?? 80, 80)
        if code == 0 { return (0, UsageLayout.wrapped(command.fullMessage(for: error, columns: columns), columns: columns)) }
        var message = command.message(for: error).replacingOccurrences(of: "Error: ", with: "")
        guard !message.isEmpty else { return (code, "") }
        // An argument the message quotes is one line in it, even with a newline of its own,
        // and of a hundred characters, however long it is.
        for argument in Lifeline.arguments where argument.contains(where: \.isNewline) || argument.count > 80 {
            message = message.replacingOccurrences(of: "'\(argument)'", with: "'\(TerminalText.escaped(JobInputError.quoted(argument)))'")
        }
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // A list of valid values comes one per line ("- value"): keep it, on the one line.
        let values = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
        var oneLine = lines.first ?? message
        let arguments = Lifeline.arguments
        // The parser reads "-1" as an option: an unknown one, or one that takes the value it stood for.
        if oneLine.hasPrefix("Missing expected argument") || oneLine.hasPrefix("Missing value for") || oneLine.hasPrefix("Unknown option '-"),
           let index = arguments.firstIndex(where: { $0.wholeMatch(of: #/-[0-9][0-9.]*/#) != nil })
        {
            let option = index > 0 && arguments[index - 1].hasPrefix("--") ? " for \(arguments[index - 1])" : ""
            return (code, "negative numbers are not accepted: \(arguments[index])\(option) (see --help)")
        }
        // A JSON object after the kind is a job's arguments given without their option.
        if let match = oneLine.firstMatch(of: #/^Unexpected argument '(\{.*)'$/#), arguments.first == "enqueue" {
            oneLine = "Unexpected argument '\(match.1)': a job's arguments are given with --args"
        }
        if oneLine.hasPrefix("Missing expected argument"), let option = CommandSuggestion.unknownOption(in: arguments, root: Lifeline.self) {
            oneLine = "Unknown option '\(option)'"
        }
        if let match = oneLine.firstMatch(of: #/^Unknown option '(--[^']+)'/#) {
            // The parser's own guess ("Did you mean '--db'?" for `--x`) is no better than none.
            oneLine = "Unknown option '\(match.1)'"
        }
        if let match = oneLine.firstMatch(of: #/^Unknown option '(--[^']+)'/#),
           let closest = CommandSuggestion.closestOption(to: String(match.1), in: arguments, root: Lifeline.self)
        {
            // Named in the command's help: it came first, and was left where it was.
            if closest == match.1 {
                let misplaced = closest == "--db" ? StoreOptions.misplaced(closest, in: arguments)
                    : CommandSuggestion.misplaced(closest, in: arguments, root: Lifeline.self)
                return (code, misplaced)
            }
            return (code, "unknown option '\(match.1)'; did you mean '\(closest)'?")
        }
        if let match = oneLine.firstMatch(of: #/The value '(.*)' is invalid for '(\S+)[^']*'/#) {
            // Two or three values come on the same line: "Please provide one of 'a' and 'b'."
            let inline = oneLine.firstMatch(of: #/Please provide one of (.*)\.$/#).map { String($0.1).matches(of: #/'([^']*)'/#).map { String($0.1) } } ?? []
            let valid = values.isEmpty ? inline : values
            if !valid.isEmpty {
                oneLine = "invalid value '\(match.1)' for \(match.2); expected one of: \(valid.joined(separator: ", "))"
            } else {
                // Every other typed option and argument is a number; its help gives its range.
                let why = match.1.wholeMatch(of: #/[0-9]+/#) != nil ? "too large" : "not a whole number"
                oneLine = "invalid value '\(match.1)' for \(match.2): \(why)"
            }
        }
        // The parser's sentences start in capitals; Lifeline's messages do not. Only a usage
        // error points to the help; anything else the parser was handed failed at run time.
        let sentence = oneLine.prefix(1).lowercased() + oneLine.dropFirst()
        return (code, code == ExitCode.validationFailure.rawValue ? sentence + " (see --help)" : sentence)
    }
}
