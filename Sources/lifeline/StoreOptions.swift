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
    /// command that opens the queue takes it.
    static func placed(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        guard let first = arguments.first, first == "--db" || first.hasPrefix("--db=") else { return arguments }
        let option = Array(arguments.prefix(first == "--db" ? 2 : 1))
        var rest = Array(arguments.dropFirst(option.count))
        var command = root
        var end = 0
        while end < rest.count, let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == rest[end] }) {
            command = next
            end += 1
        }
        guard end > 0 else { return arguments }
        // A group named without one of its commands, or with a misspelt one, is told so alone.
        guard command.configuration.subcommands.isEmpty else { return rest }
        rest.insert(contentsOf: option, at: end)
        return rest
    }
}
