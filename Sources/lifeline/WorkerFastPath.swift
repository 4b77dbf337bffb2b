/// `lifeline worker` read without swift-argument-parser (see ``FastCommandLine``): its
/// reflection was 21 of an empty drain's 47 million instructions (callgrind). A pool's
/// runners have a command line of their own (``WorkerCommand/runnerCommand``).
enum WorkerFastPath {
    /// What the arguments (without the program's name) ask for, when they are a `worker`
    /// this path fully understands; values out of range go to the parser.
    static func options(_ arguments: [String]) -> WorkerOptions? {
        reader.read(arguments, onto: WorkerOptions())
    }

    private static let reader = FastCommandLine<WorkerOptions>(
        command: "worker",
        options: [
            .text("--queues") { $0.queues = $1 },
            .number("--concurrency") { $0.concurrency = $1 },
            .number("--processes") { $0.processes = $1 },
            .text("--lease", takesDashes: true) { $0.lease = $1 },
            .text("--grace", takesDashes: true) { $0.grace = $1 },
            .db { $0.store.db = $1 },
        ],
        flags: [.init(name: "--drain") { $0.drain = true }],
        validate: { try $0.validate() }
    )
}
