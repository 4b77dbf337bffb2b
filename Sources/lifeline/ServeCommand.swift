import ArgumentParser
import Foundation
import GRDB
import LifelinePostgres
import LifelineSQLite
import LifelineWeb
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the queue's dashboard and JSON API over HTTP, on this machine only unless told otherwise.",
        discussion: """
            Routes, answering JSON in the shapes of the CLI's --json (lists are arrays):
              GET /             the dashboard: queues, jobs, servers and events, live
              GET /healthz      {"store": "ok"}, or 503 when the store does not answer
              GET /metrics      Prometheus text format
              GET /api/jobs?state=S&queue=Q&kind=K&server=N&retried=true&since=1h
                  &limit=50&before=ID   (the next page: jobs older than ID)
              GET /api/jobs/ID  /api/queues  /api/stats  /api/servers
              GET /api/servers/NAME  /api/servers/NAME/history
              GET /api/events?after=SEQ&job=ID&server=N&type=T&since=1h&limit=100
                  (follow: pass the last seq seen)
              GET /api/events/stream  server-sent events (resumes after Last-Event-ID)
              GET /api/events/latest  /api/openapi.json (every route and parameter)
            Actions, each with the header Authorization: Bearer TOKEN:
              POST /api/jobs/ID/retry  /api/jobs/ID/cancel
              POST /api/queues/NAME/pause  /api/queues/NAME/resume
              POST /api/servers/NAME/ACTION  (optional JSON body: recovery_point,
                   idempotency_key)
            TOKEN is LIFELINE_TOKEN, or one made up and printed at start. A refusal \
            answers {"error": "…"}: 400 bad input, 401 no token, 403 cross-site, 404 \
            not found, 405 wrong method, 409 refused as the CLI refuses it (exit 3), 413 \
            body too large, 503 the store busy or not answering. Responses are never cached, and pages \
            load nothing but the server's own script and style (Content-Security-Policy).

            Binds to 127.0.0.1 by default. Another --host (reachable from other \
            machines) needs LIFELINE_TOKEN set, at least 16 characters, or it is \
            refused. The token guards actions only: reads (jobs with their arguments, \
            events, metrics) answer whoever reaches the port, so keep such a host \
            behind a firewall or an authenticating proxy. SIGTERM, SIGINT or SIGHUP \
            stop it.

            Examples:
              lifeline serve                # http://127.0.0.1:8080
              lifeline serve --port 0       # a free port, printed at start
              curl -s 'http://127.0.0.1:8080/api/jobs?state=discarded'
            """
    )

    /// The shortest LIFELINE_TOKEN taken where other machines may reach the port.
    static let publicTokenLength = 16

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: a free one, printed at start).")
    var port = 8080

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
    }

    func run() async throws {
        // An IPv6 address may come in brackets, as a URL writes it (and as this prints it).
        let host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard !host.isEmpty else { throw CLIFailure(.invalidInput, "--host is empty: give an address or a name, e.g. 127.0.0.1") }
        // Said before the loopback check, whose advice (a token) would not help.
        if let why = Self.unresolvable(host) {
            throw CLIFailure(.invalidInput, "--host \(host) is neither an address nor a name this machine can resolve (\(why))")
        }
        // A header's value loses its spaces at the ends: such a token could never be given back.
        if let token = Environment.value("LIFELINE_TOKEN"), token.contains(where: \.isWhitespace) {
            throw CLIFailure(.invalidInput, "LIFELINE_TOKEN holds a space or a line break, which an Authorization header cannot carry as it is: use one without (e.g. openssl rand -hex 16)")
        }
        if !Self.isLoopback(host) {
            guard let token = Environment.value("LIFELINE_TOKEN") else {
                throw CLIFailure(
                    .invalidInput,
                    "--host \(host) is not a loopback address (127.0.0.1, ::1, localhost), so other machines may reach it: set LIFELINE_TOKEN to serve there, or use 127.0.0.1"
                )
            }
            // Other machines may guess at it: a word is not a secret.
            guard token.count >= Self.publicTokenLength else {
                throw CLIFailure(
                    .invalidInput,
                    "LIFELINE_TOKEN is too weak for --host \(host), which other machines may reach: use at least \(Self.publicTokenLength) characters (e.g. openssl rand -hex 16)"
                )
            }
        }
        let (opened, readOnlyBecause, unchecked) = try await openQueue()
        try WorkerLogging.bootstrap()
        // Once the server answers, the queue is checked as at any start: one missing, or made by
        // a newer Lifeline, ends serve as it would have at its start.
        let check = unchecked ? Task {
            var outage = StoreOutage(reading: "the queue") { _ in }
            do {
                _ = try await outage.open { try await store.openStore(creating: false, concurrentReads: true) }
                Output.standardError.writeLine("lifeline: PostgreSQL answers; serving \(opened.location)")
            } catch {
                Foundation.exit(CLIFailure.report(error, command: Lifeline.self))
            }
        } : nil
        let given = Environment.value("LIFELINE_TOKEN")
        let token = given ?? Self.newToken()
        // Reads and actions would go on in a file that is no longer the queue.
        let fileCheck = Task { await opened.exitIfReplaced(by: "server") }
        defer {
            check?.cancel()
            fileCheck.cancel()
            opened.closeForExit()
        }
        try await WebServer.run(
            api: WebAPI(
                jobs: opened.jobs, servers: opened.servers, token: token, loopback: Self.isLoopback(host) ? host : nil,
                watchChanges: { try opened.watchChanges($0) },
                recoveryPointRefusal: { [infraRoot = store.infraRoot] point, action, server in
                    try await RecoveryPointCheck.refusal(point, for: action, server: server, infraRoot: infraRoot)
                },
                fileProblem: { opened.fileProblem() }, describeStoreFailure: { Self.describe($0, readOnlyBecause: readOnlyBecause) },
                isDamage: StoreErrorText.isDamage
            ), host: host, port: port,
            logger: Logger(label: "lifeline.serve")
        ) { port in
            let output = Output.standardOutput
            output.writeLine("serving \(opened.location) on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            // A token of the user's own is never printed; a made-up one is shown once, here.
            output.writeLine(given == nil ? "actions need the header: Authorization: Bearer \(token)" : "actions need the token in LIFELINE_TOKEN")
        }
    }

    /// The queue, opened to write; a file that cannot be written here (a read-only mount or
    /// directory, a full disk, another user's queue) is opened to read, and said so: the
    /// dashboard shows it when it is most needed, and actions answer 503 with why. A PostgreSQL
    /// server that does not answer is served all the same, unchecked: /healthz and /metrics
    /// say it is down, as they do when it goes down later. Any other failure (a busy lock,
    /// damage, a missing queue) ends serve, to be started again.
    /// Returns why the queue was opened to read only, or nil when it may be written, and
    /// whether it is yet to be checked.
    private func openQueue() async throws -> (OpenQueue, readOnlyBecause: String?, unchecked: Bool) {
        do {
            return (try await store.openStore(creating: false, concurrentReads: true), nil, false)
        } catch let outage as PostgresStoreError where outage.isOutage {
            guard let unchecked = try store.postgresUnchecked() else { throw outage }
            Output.standardError.writeLine("lifeline: \(outage); serving it all the same: /healthz answers 503 until it answers")
            return (unchecked, nil, true)
        } catch let failure as CLIFailure where Self.cannotWrite(failure.cause) {
            guard let reader = try? await store.openReader() else { throw failure }
            Output.standardError.writeLine("lifeline: \(failure.description); serving it read-only until serve is restarted: actions answer 503")
            return (reader, failure.description, false)
        }
    }

    /// What a 503 says of a failure: an action on a queue served read-only says why it is, not
    /// only that SQLite found the connection read-only (true of every such queue).
    static func describe(_ error: any Error, readOnlyBecause: String?) -> String? {
        if let readOnlyBecause, (error as? DatabaseError)?.resultCode == .SQLITE_READONLY {
            // Said once, where the reason says it too.
            let nothing = " (nothing was written)"
            let why = readOnlyBecause.hasSuffix(nothing) ? String(readOnlyBecause.dropLast(nothing.count)) : readOnlyBecause
            return "served read-only since serve started: \(why); restart serve once it may write\(nothing)"
        }
        return CLIFailure.storeFailure(error)
    }

    private static func cannotWrite(_ cause: (any Error)?) -> Bool {
        if cause is QueueOwner.Refusal { return true }
        guard let error = cause as? DatabaseError else { return false }
        return [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_FULL].contains(error.resultCode)
    }

    /// 32 random bytes as hex, from the system's generator.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Why `host` names no address here, or nil when it names one.
    static func unresolvable(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &found)
        defer { if let found { freeaddrinfo(found) } }
        return status == 0 ? nil : String(cString: gai_strerror(status)).lowercased()
    }

    /// Whether only this machine can reach `host`: localhost, or an address in 127.0.0.0/8 or
    /// ::1. A name is taken by its text only for localhost: `127.x.example.com` is anyone's.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { $0.elementsEqual([UInt8](repeating: 0, count: 15) + [1]) }
    }
}
