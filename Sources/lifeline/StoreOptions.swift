import ArgumentParser

/// `--db`, as every command that opens the queue takes it; see ``StoreSelection``.
struct StoreOptions: ParsableArguments, StoreSelection {
    @Option(name: .long, help: ArgumentHelp(
        "The database: a file, or postgres://USER@HOST[:PORT]/DBNAME (default: $LIFELINE_DATABASE_URL, else $LIFELINE_HOME/lifeline.db).",
        valueName: "PATH|URL"
    ))
    var db: String?

    func validate() throws {
        if db?.isEmpty == true { throw ValidationError("--db is empty: give a database file or a postgres:// URL") }
    }

    /// `arguments` with a `--db` that comes first (`lifeline --db F jobs list`, as one says
    /// which queue before what to do with it) moved after the command's name, where every
    /// command that opens the queue takes it. Left where it is when no command follows it, or
    /// when its value is a command's name (its own was forgotten): the parser then refuses it.
    static func placed(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        guard let first = arguments.first, first == "--db" || first.hasPrefix("--db=") else { return arguments }
        let option = Array(arguments.prefix(first == "--db" ? 2 : 1))
        var rest = Array(arguments.dropFirst(option.count))
        let commands = root.configuration.subcommands.compactMap { $0.configuration.commandName }
        guard let word = rest.first, !(option.count == 2 && commands.contains(option[1])) else { return arguments }
        var command = root
        var end = 0
        while end < rest.count, let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == rest[end] }) {
            command = next
            end += 1
        }
        // A misspelt command, or a group named without one of its commands, is told so alone.
        guard end > 0, command.configuration.subcommands.isEmpty else { return word.hasPrefix("-") ? arguments : rest }
        rest.insert(contentsOf: option, at: end)
        return rest
    }

    /// Why a `flag` that came first was left where it was (see ``placed(_:root:)``): another
    /// option between it and the command's name, or no command, or its value forgotten
    /// (`lifeline --db jobs list`).
    static func misplaced(_ flag: String, in arguments: [String]) -> String {
        let afterValue = arguments.first == flag ? 2 : 1
        if let first = arguments.first, first == flag || first.hasPrefix(flag + "="), arguments.count > afterValue, arguments[afterValue].hasPrefix("-") {
            return CommandSuggestion.misplaced(String(arguments[afterValue].prefix { $0 != "=" }), in: arguments, root: Lifeline.self)
        }
        return "'\(flag)' takes a value and a command after it, e.g. lifeline \(flag) queue/lifeline.db jobs list"
    }

    /// Refuses a second `--db`: the parser would take the last one, and a command would act on
    /// a queue other than the one its first `--db` named.
    static func checkNamedOnce(_ arguments: [String]) throws {
        let named = arguments.prefix { $0 != "--" }.filter { $0 == "--db" || $0.hasPrefix("--db=") }
        guard named.count <= 1 else { throw CLIFailure(.invalidInput, "--db is given \(named.count) times: name one database") }
    }
}
