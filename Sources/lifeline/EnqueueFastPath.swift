/// `lifeline enqueue` read without swift-argument-parser (see ``FastCommandLine``), whose
/// reflection of the commands' properties was over half of a one-job enqueue's CPU.
enum EnqueueFastPath {
    /// What the arguments (without the program's name) ask for, when they are an `enqueue`
    /// this path fully understands; flags that conflict go to the parser.
    static func options(_ arguments: [String]) -> EnqueueOptions? {
        reader.read(arguments, onto: EnqueueOptions(kind: ""))
    }

    private static let reader = FastCommandLine<EnqueueOptions>(
        command: "enqueue",
        options: [
            .text("--args") { $0.args = $1 },
            .text("--args-file") { $0.argsFile = $1 },
            .text("--queue") { $0.queue = $1 },
            .number("--priority", takesDashes: true) { $0.priority = $1 },
            .text("--delay", takesDashes: true) { $0.delay = $1 },
            .text("--at") { $0.at = $1 },
            .number("--max-attempts", takesDashes: true) { $0.maxAttempts = $1 },
            .text("--timeout", takesDashes: true) { $0.timeout = $1 },
            .text("--backoff", takesDashes: true) { $0.backoff = $1 },
            .text("--idempotency-key") { $0.idempotencyKey = $1 },
            .text("--batch") { $0.batch = $1 },
            .db { $0.store.db = $1 },
        ],
        flags: [.init(name: "--json") { $0.json = true }],
        word: { $0.kind = $1 },
        validate: { try $0.validate() }
    )
}
