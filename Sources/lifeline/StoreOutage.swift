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
        do {
            let value = try await read()
            if unreachable { say("lifeline: reading \(subject) again") }
            unreachable = false
            return value
        } catch where !(error is CancellationError) {
            if !unreachable { say("lifeline: \(error); retrying every second") }
            unreachable = true
            try await Task.sleep(for: .seconds(1))
            return nil
        }
    }
}
