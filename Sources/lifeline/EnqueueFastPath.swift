/// `lifeline enqueue` read without swift-argument-parser, whose reflection of the commands'
/// properties was over half of a one-job enqueue's CPU (the Swift runtime scans the binary's
/// ten thousand protocol conformance records for each new type it is asked about), into
/// plain ``EnqueueOptions``: even creating the parser's option wrappers costs such a scan.
///
/// It takes only invocations it fully understands: a kind, options by their long names, each
/// at most once, and values that parse. Anything else (help, an unknown or repeated name, a
/// missing value, flags that conflict) returns nil and goes to the parser, which reports it as
/// it always has; what it does take, it reads exactly as the parser would (a test compares the
/// two over thousands of generated command lines). An option added to `enqueue` goes to the
/// parser until it is listed here.
enum EnqueueFastPath {
    /// What the arguments (without the program's name) ask for, when they are an `enqueue`
    /// this path fully understands.
    static func options(_ arguments: [String]) -> EnqueueOptions? {
        guard arguments.first == "enqueue" else { return nil }
        var kind: String?
        var json = false
        var values = [String?](repeating: nil, count: options.count)
        var rest = arguments.dropFirst()
        while let token = rest.popFirst() {
            guard token.hasPrefix("-") else {
                guard kind == nil else { return nil }
                kind = token
                continue
            }
            if token == "--json" {
                guard !json else { return nil }
                json = true
                continue
            }
            var name = token
            var value: String?
            if let equals = token.firstIndex(of: "=") {
                name = String(token[..<equals])
                value = String(token[token.index(after: equals)...])
                guard value != "" else { return nil }
            }
            guard let index = options.firstIndex(where: { $0.name == name }), values[index] == nil else { return nil }
            if value == nil {
                guard let next = rest.popFirst(), options[index].takesDashes || !next.hasPrefix("-") else { return nil }
                value = next
            }
            values[index] = value
        }
        guard let kind else { return nil }
        var command = EnqueueOptions(kind: kind, json: json)
        for (option, value) in zip(options, values) {
            guard let value else { continue }
            guard option.set(&command, value) else { return nil }
        }
        guard (try? command.validate()) != nil else { return nil }
        return command
    }

    /// An option's long name; whether its value may start with a dash (the parser's
    /// `.unconditional`); and its setter, false when the value does not parse. A list, not a
    /// dictionary: each generic type the start instantiates costs a scan of the conformance
    /// records.
    private struct Option: Sendable {
        var name: String
        var takesDashes = false
        var set: @Sendable (inout EnqueueOptions, String) -> Bool
    }

    private static func text(_ name: String, takesDashes: Bool = false, _ set: @escaping @Sendable (inout EnqueueOptions, String) -> Void) -> Option {
        Option(name: name, takesDashes: takesDashes) { command, value in
            set(&command, value)
            return true
        }
    }

    private static func number(_ name: String, _ set: @escaping @Sendable (inout EnqueueOptions, Int) -> Void) -> Option {
        Option(name: name, takesDashes: true) { command, value in
            guard let number = Int(value) else { return false }
            set(&command, number)
            return true
        }
    }

    private static let options: [Option] = [
        text("--args") { $0.args = $1 },
        text("--args-file") { $0.argsFile = $1 },
        text("--queue") { $0.queue = $1 },
        number("--priority") { $0.priority = $1 },
        text("--delay", takesDashes: true) { $0.delay = $1 },
        text("--at") { $0.at = $1 },
        number("--max-attempts") { $0.maxAttempts = $1 },
        text("--timeout", takesDashes: true) { $0.timeout = $1 },
        text("--backoff", takesDashes: true) { $0.backoff = $1 },
        text("--idempotency-key") { $0.idempotencyKey = $1 },
        text("--batch") { $0.batch = $1 },
        // An empty one goes to the parser, which refuses it.
        Option(name: "--db") { command, value in
            command.store.db = value
            return !value.isEmpty
        },
    ]
}
