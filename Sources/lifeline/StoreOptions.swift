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
}
