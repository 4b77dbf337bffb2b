import LifelinePostgres

/// A long read, a follow or a wait, outlasts a database restart: it says once that the store
/// does not answer and that it tries again each second, and once that it reads again.
struct StoreOutage {
    /// What is read, for the line that says it reads again.
    private let subject: String
    private let say: (String) -> Void
    private var unreachable = false

    init(reading subject: String, say: @escaping (String) -> Void = { Output.standardError.writeLine($0) }) {
        self.subject = subject
        self.say = say
    }

    /// What `read` returns, or nil when it failed: said once, then a second's pause.
    mutating func read<T>(_ read: () async throws -> T) async throws -> T? {
        try await attempt(read) { !($0 is CancellationError) }
    }

    /// What `open` (the store's opening, and the reads a command starts with) returns, once it
    /// works: a command that outlasts an outage also waits one out at its start. Only an outage
    /// is waited out, until `deadline` if there is one; a refused password, a missing queue or
    /// a mistyped URL ends the command.
    mutating func open<T>(until deadline: ContinuousClock.Instant? = nil, _ open: () async throws -> T) async throws -> T {
        while true {
            let outage = { (error: any Error) in (error as? PostgresStoreError)?.isOutage == true }
            do {
                if let value = try await attempt(open, retrying: { outage($0) && deadline.map { .now < $0 } ?? true }) { return value }
            } catch where outage(error) {
                throw CLIFailure(.runtime, "timed out waiting for the database: \(error)")
            }
        }
    }

    private mutating func attempt<T>(_ body: () async throws -> T, retrying: (any Error) -> Bool) async throws -> T? {
        do {
            let value = try await body()
            if unreachable { say("lifeline: reading \(subject) again") }
            unreachable = false
            return value
        } catch where retrying(error) {
            if !unreachable { say("lifeline: \(error); retrying every second") }
            unreachable = true
            try await Task.sleep(for: .seconds(1))
            return nil
        }
    }
}
