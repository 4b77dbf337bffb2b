import Foundation
import Hummingbird
import LifelineQueue
import LifelineRecovery

/// The write side of `lifeline serve`: the CLI's actions, each a POST behind the token, each
/// refused as the CLI refuses it (404 where the CLI exits 4, 409 where it exits 3).
struct WebActions: Sendable {
    let jobs: any JobStore
    let servers: any ServerStore
    let recoveryPointRefusal: WebAPI.RecoveryPointRefusal

    func add(to router: Router<BasicRequestContext>, token: String) {
        let actions = router.group("api").add(middleware: ActionGuard(token: token))
        let withoutOptions = actions.group().add(middleware: NoOptions())
        // Another method where only POST acts is told so, rather than that the path does not exist.
        let reads = router.group("api")
        let withoutBody: [(path: String, act: @Sendable (BasicRequestContext) async throws -> Response)] = [
            ("jobs/:id/retry", { try await retry(try Self.jobID($0)) }),
            ("jobs/:id/cancel", { try await cancel(try Self.jobID($0)) }),
            ("queues/:name/pause", { try await pause($0.name, true) }),
            ("queues/:name/resume", { try await pause($0.name, false) }),
        ]
        for action in withoutBody {
            withoutOptions.post(RouterPath(action.path)) { _, context in try await action.act(context) }
            reads.refuse(RouterPath(action.path), taking: [.post])
        }
        actions.post("servers/:name/:action") { request, context in
            try await act(context.name, context.parameters.get("action"), request: request)
        }
        reads.refuse("servers/:name/:action", taking: [.post]) { context in
            guard context.parameters.get("action").flatMap(ServerAction.init(rawValue:)) != nil else {
                throw APIError.notFound("no such path")
            }
        }
    }

    static func jobID(_ context: BasicRequestContext) throws -> Int64 {
        try WebAPI.jobID(context.parameters.get("id"))
    }

    /// Like `jobs retry ID`: a discarded, cancelled, retryable or scheduled job, not a recovery stage.
    private func retry(_ id: Int64) async throws -> Response {
        guard let job = try await jobs.jobGet(id) else { throw APIError.notFound(Job.missingText([id])) }
        if let refusal = try await StageJobs.retryRefusal(job, in: servers) { throw APIError(status: .conflict, message: refusal) }
        guard let retried = try await jobs.jobRetry([id]).first else {
            let state = try await jobs.jobGet(id)?.state ?? job.state
            throw APIError(status: .conflict, message: JobState.notRetried([(id, state)]))
        }
        return try APIResponse.json(retried)
    }

    /// Like `jobs cancel ID`: at once if waiting (200), within a second if running (202); a
    /// completed or discarded job is refused (409), a cancelled one is left as it is (200).
    private func cancel(_ id: Int64) async throws -> Response {
        if let cleanup = try await jobs.jobGet(id).flatMap(StageJobs.cancelRefusal) { throw APIError(status: .conflict, message: cleanup) }
        let result = try await jobs.jobCancel([id])[id] ?? .notFound
        switch result {
        case .alreadyFinal(let state) where state != .cancelled: throw APIError(status: .conflict, message: CancelResult.refusal([(id, state)]))
        case .notFound: throw APIError.notFound(Job.missingText([id]))
        case .cancelled, .requested, .alreadyFinal:
            let body: JSONValue = ["job": .int(id), "result": .string(result.reported ?? "")]
            return try APIResponse.json(body, status: result == .requested ? .accepted : .ok)
        }
    }

    private func pause(_ queue: String?, _ paused: Bool) async throws -> Response {
        guard let queue else { throw APIError.badRequest("a queue name is needed") }
        try JobLimits.checkQueueName(queue)
        try await jobs.queueUpdate(queue, QueueUpdate(paused: paused), create: false)
        guard let info = try await jobs.queueList().first(where: { $0.name == queue }) else { throw APIError.notFound("no queue '\(queue)'") }
        return try APIResponse.json(info)
    }

    /// Like `server ACTION NAME`; the body may give `{"recovery_point": …, "idempotency_key": …}`,
    /// checked as the CLI checks its options: a misspelt field or a point the machine lacks
    /// must not start a failover from the latest point instead.
    private func act(_ name: String?, _ actionName: String?, request: Request) async throws -> Response {
        guard let name else { throw APIError.badRequest("a server name is needed") }
        let names = ServerAction.allCases.map(\.rawValue)
        guard let action = actionName.flatMap(ServerAction.init(rawValue:)) else {
            throw APIError.badRequest("unknown action '\(actionName ?? "")'; actions: \(names.joined(separator: ", "))")
        }
        try ServerNames.check(name)
        let body = try await Self.collect(request, upTo: 64 << 10)
        let options = body.readableBytes == 0 ? [:] : try Self.parse(body)
        let recoveryPoint = try Self.string("recovery_point", in: options)
        if let recoveryPoint {
            guard action.takesRecoveryPoint else {
                throw APIError.badRequest("recovery_point goes with failover and test-failover")
            }
            try ServerNames.check(recoveryPoint, what: "recovery point")
            if let server = try await servers.serverGet(name), let refusal = try await recoveryPointRefusal(recoveryPoint, action, server) {
                throw APIError.notFound(refusal)
            }
        }
        let result: ActionResult
        do {
            result = try await servers.serverAct(
                name, action: action, recoveryPoint: recoveryPoint, idempotencyKey: try Self.string("idempotency_key", in: options)
            )
        } catch let refused as LifecycleError {
            throw APIError(status: .conflict, message: refused.description(server: name))
        } catch ServerStoreError.notFound {
            throw APIError.notFound(await servers.missingText(name))
        }
        return try APIResponse.json(result, status: result.existing ? .ok : .accepted)
    }

    /// A field of an action's body: a string, or absent (or null).
    private static func string(_ field: String, in options: [String: JSONValue]) throws(APIError) -> String? {
        switch options[field] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case _?: throw .badRequest("\(field) must be a string")
        }
    }

    /// Job and queue actions take no options: their body is empty or `{}`, so a field sent
    /// for one is refused rather than ignored, as a server action's unknown field is.
    struct NoOptions: RouterMiddleware {
        func handle(
            _ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response
        ) async throws -> Response {
            let body = try await collect(request, upTo: 64 << 10)
            if body.readableBytes > 0 {
                guard case .object(let fields)? = try? JSONValue(parsing: Data(body.readableBytesView)) else {
                    throw APIError.badRequest("this action takes no body: send none, or {}")
                }
                if let field = fields.keys.sorted().first { throw APIError.badRequest("unknown field '\(field)': this action takes no fields") }
            }
            return try await next(request, context)
        }
    }

    /// The request's body; one larger than `limit` is refused (413) rather than read on, and
    /// one declared larger before it is waited for.
    private static func collect(_ request: Request, upTo limit: Int) async throws -> ByteBuffer {
        let tooLarge = APIError(status: .contentTooLarge, message: "the body is larger than \(limit >> 10) KiB")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        var collected = ByteBuffer()
        for try await part in request.body {
            guard collected.readableBytes + part.readableBytes <= limit else { throw tooLarge }
            collected.writeImmutableBuffer(part)
        }
        return collected
    }

    private static let fields = ["recovery_point", "idempotency_key"]

    private static func parse(_ body: ByteBuffer) throws -> [String: JSONValue] {
        let expected = "the body must be a JSON object, e.g. {\"recovery_point\": \"rp-002\"}"
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Data(body.readableBytesView))
        } catch {
            throw APIError.badRequest("\(expected): \(error)")
        }
        guard case .object(let options) = json else { throw APIError.badRequest(expected) }
        if let unknown = options.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError.badRequest("unknown field '\(unknown)' (fields: \(fields.joined(separator: ", ")))")
        }
        return options
    }
}

extension BasicRequestContext {
    /// The route's `:name`, percent-decoded: a name is matched, and echoed in refusals, as
    /// the CLI takes it.
    var name: String? {
        parameters.get("name").map { $0.removingPercentEncoding ?? $0 }
    }
}
