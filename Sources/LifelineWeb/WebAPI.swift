import Foundation
import Hummingbird
import LifelineQueue
import LifelineRecovery

/// `lifeline serve`: the dashboard at `/`, the CLI's JSON shapes under `/api/`, `/healthz`
/// and `/metrics`. Lists are
/// JSON arrays of what the CLI prints one per line with `--json`; actions are POSTs behind
/// `token` (see ``WebActions``).
public struct WebAPI: Sendable {
    let jobs: any JobStore
    let servers: any ServerStore
    let token: String
    /// The loopback address it listens on, where it answers requests to this machine only;
    /// nil on an address other machines may reach.
    let loopback: String?
    private let metrics: QueueMetrics
    /// Follows the event log for the metrics and the live streams; runs beside the server.
    let tail: EventTail
    let recoveryPointRefusal: RecoveryPointRefusal
    /// What is wrong with the store's file, if anything (see ``health()``).
    let fileProblem: @Sendable () -> String?
    /// A store's failure in an operator's words (a damaged file, PostgreSQL out of reach), or
    /// nil when the error is none of the store's: what a 503 says.
    let describeStoreFailure: @Sendable (any Error) -> String?
    /// Damage to the store's file that a request found, said by `/healthz` until serve restarts
    /// (a file replaced meanwhile ends serve; a file mended in place is not looked at again).
    let damage: StoreDamage

    /// Starts calling its argument soon after any process commits a change, for as long as
    /// the value it returns is kept; throws where nothing can tell.
    public typealias ChangeWatch = @Sendable (@escaping @Sendable () -> Void) throws -> (any Sendable)?

    /// Why a failover or test-failover cannot start from the recovery point it names (the
    /// server's machine does not have it), or nil, also for an action the server does not take
    /// now, which its state refuses first; the infrastructure knows, which the caller chose.
    public typealias RecoveryPointRefusal = @Sendable (_ point: String, _ action: ServerAction, _ server: ServerInfo) async throws -> String?

    public init(
        jobs: any JobStore, servers: any ServerStore, token: String, loopback: String?, watchChanges: @escaping ChangeWatch,
        recoveryPointRefusal: @escaping RecoveryPointRefusal, fileProblem: @escaping @Sendable () -> String?,
        describeStoreFailure: @escaping @Sendable (any Error) -> String?, isDamage: @escaping @Sendable (any Error) -> Bool
    ) {
        damage = StoreDamage(isDamage: isDamage)
        self.recoveryPointRefusal = recoveryPointRefusal
        self.fileProblem = fileProblem
        self.describeStoreFailure = describeStoreFailure
        self.jobs = jobs
        self.servers = servers
        self.token = token
        self.loopback = loopback
        let metrics = QueueMetrics()
        self.metrics = metrics
        tail = EventTail(jobs: jobs, metrics: metrics, watchChanges: watchChanges, describe: describeStoreFailure)
    }

    /// The router with every route, its errors as JSON and its security headers. `HEAD` is
    /// answered wherever `GET` is.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.middlewares.add(SecurityHeaders())
        router.middlewares.add(APIErrors(describeStoreFailure: describeStoreFailure, damage: damage))
        router.middlewares.add(MethodCheck())
        if let loopback { router.middlewares.add(HostCheck(served: loopback)) }
        router.middlewares.add(QueryCheck())
        router.read("healthz") { _, _ in try await health() }
        router.read("metrics") { _, _ in
            let text = await metrics.scrape(jobs: jobs, servers: servers, storeProblem: storeProblem)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        router.read("api/jobs") { request, _ in try await jobList(QueryParameters(request: request)) }
        router.read("api/jobs/:id") { _, context in try await job(context.parameters.get("id")) }
        router.read("api/queues") { _, _ in try APIResponse.json(try await jobs.queueList()) }
        router.read("api/stats") { _, _ in
            try APIResponse.json(StatsReport(stats: try await jobs.statsGet(), queues: try await jobs.queueList()))
        }
        router.read("api/servers") { _, _ in try APIResponse.json(try await servers.serverList()) }
        router.read("api/servers/:name") { _, context in try await server(context.name) }
        router.read("api/servers/:name/history") { _, context in try await history(context.name) }
        router.read("api/events") { request, _ in try await events(QueryParameters(request: request)) }
        router.read("api/events/stream") { request, _ in try await EventStream(jobs: jobs, tail: tail).response(request) }
        router.read("api/events/latest") { _, _ in
            let seq = try await jobs.eventList(EventFilter(limit: 1, newestFirst: true)).first?.seq ?? 0
            return try APIResponse.json(["seq": seq])
        }
        router.read("api/openapi.json") { _, _ in try APIResponse.json(OpenAPIDocument.json) }
        Dashboard.add(to: router)
        WebActions(jobs: jobs, servers: servers, recoveryPointRefusal: recoveryPointRefusal).add(to: router, token: token)
        return router
    }

    /// 200 when the store answers within ``StoreDeadline/limit``, 503 when it does not or its
    /// file is damaged (a read can still be answered from SQLite's cache, or from pages that
    /// are whole). It reads the jobs themselves, as every page does: their table may not answer
    /// while others do (a session holding it locked). The running ones, always few, have an
    /// index of their own.
    private func health() async throws -> Response {
        let problem = await storeProblem {
            try await StoreDeadline.value(of: Task {
                _ = try await jobs.queueList()
                _ = try await jobs.jobCount(JobFilter(states: [.running]))
            })
        }
        if let problem { return try APIResponse.json(["store": "unavailable", "error": problem], status: .serviceUnavailable) }
        return try APIResponse.json(["store": "ok"])
    }

    /// Why the store cannot be read, in an operator's words, or nil once `read` has read it:
    /// damage found before, by a request or in the file, counts as well as `read` failing.
    private func storeProblem(_ read: () async throws -> Void) async -> String? {
        if let problem = fileProblem() ?? damage.found { return problem }
        do {
            try await read()
            return nil
        } catch {
            let description = describeStoreFailure(error) ?? (error as? StoreDeadline.TimedOut)?.description ?? APIResponse.storeDidNotAnswer
            damage.note(error, described: description)
            return description
        }
    }

    /// `?state=` (repeatable), `queue`, `kind`, `server`, `retried=true`, `since=D`, `limit`
    /// (default 50, at most 1,000) and `before=ID` (the next page: jobs older than the last one
    /// shown): newest first, like `jobs list`; `brief=true` leaves out each job's args and result.
    private func jobList(_ query: QueryParameters) async throws -> Response {
        let before = try query.string("before").map { _ in Int64(try query.int("before", default: 0, in: 1...Int.max)) }
        let (queue, server) = (query.string("queue"), query.string("server"))
        // Names no queue or server can have are bad input, as the CLI says (64), not an empty list.
        if let queue { try JobLimits.checkQueueName(queue) }
        if let server { try ServerNames.check(server) }
        let filter = JobFilter(
            states: try query.values("state", what: "state"), queue: queue, kind: query.string("kind"), server: server,
            activeSince: try query.since(now: jobs.now), retriedOnly: try query.flag("retried", without: "every job"), beforeID: before,
            limit: try query.int("limit", default: 50, in: 1...1000)
        )
        let brief = try query.flag("brief", without: "whole jobs")
        let listed = try await jobs.jobList(filter)
        return try brief ? APIResponse.json(listed.map(Job.Brief.init)) : APIResponse.json(listed)
    }

    /// A job id as a path or a query gives it: a positive whole number in plain digits, as the
    /// API writes it (`+1` and `01` are no job's).
    static func jobID(_ text: String?) throws -> Int64 {
        guard let text, text.first != "0", text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let id = Int64(text) else {
            throw APIError.badRequest("a job id is a positive whole number")
        }
        return id
    }

    private func job(_ text: String?) async throws -> Response {
        let id = try Self.jobID(text)
        guard let job = try await jobs.jobGet(id) else { throw APIError.notFound(Job.missingText([id])) }
        return try APIResponse.json(ShownJob(job: job, events: try await jobs.eventList(EventFilter(job: id))))
    }

    private func server(_ name: String?) async throws -> Response {
        // A name no server can have is bad input, as the CLI says (64), not a missing server.
        if let name { try ServerNames.check(name) }
        guard let name else { throw APIError.notFound("no server ''") }
        guard let server = try await servers.serverGet(name) else { throw APIError.notFound(await servers.missingText(name)) }
        return try APIResponse.json(server)
    }

    /// Like `server history NAME`: kept after the server is deleted.
    private func history(_ name: String?) async throws -> Response {
        guard let name else { throw APIError.notFound("no server ''") }
        try ServerNames.check(name)
        let history = try await servers.serverHistory(name)
        guard !history.isEmpty else { throw APIError.notFound(await servers.missingText(name, "no server '\(name)' now or in the past")) }
        return try APIResponse.json(history)
    }

    /// `?after=SEQ` (default 0), `job=ID`, `server=NAME`, `type=` (repeatable), `since=D` and
    /// `limit` (default 100, at most 1,000): the events after that number, oldest first, like
    /// `events`; a client follows the log by passing the last number it saw.
    private func events(_ query: QueryParameters) async throws -> Response {
        let after = try query.int("after", default: 0, in: 0...Int.max)
        let job = try query.string("job").map { try Self.jobID($0) }
        let server = query.string("server")
        if let server { try ServerNames.check(server) }
        let filter = EventFilter(
            afterSeq: Int64(after), job: job, server: server, types: try query.values("type", what: "event type"), since: try query.since(now: jobs.now),
            limit: try query.int("limit", default: 100, in: 1...1000)
        )
        return try APIResponse.json(try await jobs.eventList(filter))
    }
}
