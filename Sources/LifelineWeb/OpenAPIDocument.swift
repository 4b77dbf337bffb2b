import LifelineQueue
import LifelineRecovery

/// `GET /api/openapi.json`: the API described in OpenAPI 3.1, for clients and for people.
/// The shapes of jobs, servers and events are the CLI's `--json` objects; every field is listed,
/// and always there (null when it has no value).
enum OpenAPIDocument {
    static let json: JSONValue = [
        "openapi": "3.1.0",
        "info": [
            "title": "Lifeline", "version": "1",
            "description": "A durable job queue for disaster-recovery control planes. Lists are arrays of the objects the CLI prints with --json; a refusal is {\"error\": \"…\"}.",
        ],
        "components": [
            "securitySchemes": ["token": ["type": "http", "scheme": "bearer", "description": "LIFELINE_TOKEN, or the token lifeline serve printed at start"]],
            "schemas": [
                "Error": fields(["error": "string"]),
                "Job": fields(jobFields),
                "JobBrief": fields(jobFields.filter { !["args", "result"].contains($0.key) }),
                "JobWithEvents": fields(jobFields.merging(["events": "array"]) { $1 }),
                "Queue": fields([
                    "name": "string", "paused": "boolean", "limit": "integer?", "counts": "object",
                    "retain_completed_seconds": "number?", "retain_failed_seconds": "number?",
                ]),
                "Stats": fields([
                    "counts": "object", "held": "object", "oldest_waiting_seconds": "object", "running_by_worker": "object",
                    "expired_leases_by_worker": "object", "windows": "array", "windows_by_queue": "object",
                ]),
                "Server": fields([
                    "name": "string", "machine": "string", "disks": "integer", "disk_size": "integer",
                    "state": .string(ServerState.allCases.map(\.rawValue).joined(separator: "|")), "vm_state": "string", "workload": "string",
                    "allowed_actions": "array", "why_not": "object", "current_job": "integer?", "current_stage": "string?", "current_job_state": "string?",
                    "current_job_error": "string?", "last_error": "string?", "progress": "object?", "recovery_point": "string?",
                    "stalled_since": "string?", "last_test": "object?",
                ]),
                "Transition": fields(["at": "string", "from": "string?", "to": "string?", "cause": "string", "job": "integer?"]),
                "Event": fields(["seq": "integer", "at": "string", "type": "string", "job": "integer?", "server": "string?", "data": "object"]),
                "ActionResult": [
                    "type": "object", "required": ["existing", "job", "server"],
                    "properties": [
                        "job": ["type": "integer"], "existing": ["type": "boolean"],
                        "server": ["oneOf": [["$ref": "#/components/schemas/Server"], ["type": "null"]]],
                    ],
                ],
                "CancelResult": fields(["job": "integer", "result": "cancelled|requested|already cancelled"]),
                "Health": [
                    "type": "object", "required": ["store"],
                    "properties": ["store": ["type": "string", "enum": ["ok", "unavailable"]], "error": ["type": "string", "description": "why, when unavailable"]],
                ],
                "Latest": fields(["seq": "integer"]),
                "ActionOptions": [
                    "type": "object", "additionalProperties": false,
                    "properties": [
                        "recovery_point": ["type": ["string", "null"], "description": "failover and test-failover only; the latest when absent"],
                        "idempotency_key": ["type": ["string", "null"], "description": "the same request again answers the first one's job (200)"],
                    ],
                ],
            ],
        ],
        "paths": [
            "/healthz": get("Whether the store answers (503 when it does not)", object: "Health"),
            "/metrics": ["get": ["summary": "Prometheus text format; lifeline_store_up 0 while the store does not answer", "responses": ["200": ["description": "metrics", "content": ["text/plain": [:]]]]]],
            "/api/jobs": get("Jobs, newest first (each a JobBrief with brief=true)", array: "Job", alternative: "JobBrief", parameters: [
                query("state", "A state to list (repeatable)"), query("queue", "Only this queue"), query("kind", "Only this kind"),
                query("server", "Only jobs of this recovery server"), query("retried", "true: only jobs attempted more than once"),
                query("since", "Only jobs created, run or finished within this long (e.g. 1h)"),
                query("before", "Only jobs older than this id: the next page", integer: true),
                query("limit", "At most this many (1–1000, default 50)", integer: true),
                query("brief", "true: each job without its args and result, which may be large"),
            ]),
            "/api/jobs/{id}": get("A job with its events, as jobs show --json gives it", object: "JobWithEvents", parameters: [path("id", integer: true)]),
            "/api/jobs/{id}/retry": post("Retry a discarded or cancelled job, or run a retryable or scheduled one now (not a recovery stage)", object: "Job", parameters: [path("id", integer: true)]),
            "/api/jobs/{id}/cancel": post("Cancel a job: 200 at once if waiting, 202 if running", object: "CancelResult", parameters: [path("id", integer: true)], accepted: true),
            "/api/queues": get("Queues with their settings and counts", array: "Queue"),
            "/api/queues/{name}/pause": post("Pause a queue", object: "Queue", parameters: [path("name")]),
            "/api/queues/{name}/resume": post("Resume a queue", object: "Queue", parameters: [path("name")]),
            "/api/stats": get("Counts, oldest waiting job per queue, throughput", object: "Stats"),
            "/api/servers": get("Recovery servers", array: "Server"),
            "/api/servers/{name}": get("A recovery server", object: "Server", parameters: [path("name")]),
            "/api/servers/{name}/history": get("A server's transitions", array: "Transition", parameters: [path("name")]),
            "/api/servers/{name}/{action}": post(
                "A server action: 202 when taken, 200 when its idempotency key's earlier request answers",
                object: "ActionResult", parameters: [path("name"), path("action", among: ServerAction.allCases.map(\.rawValue))],
                body: "ActionOptions", accepted: true
            ),
            "/api/events": get("Events after a number, oldest first", array: "Event", parameters: [
                query("after", "Only events after this number (default 0)", integer: true), query("job", "Only this job's", integer: true),
                query("server", "Only this server's"), query("type", "An event type to list (repeatable)"),
                query("since", "Only events within this long (e.g. 1h)"), query("limit", "At most this many (1–1000, default 100)", integer: true),
            ]),
            "/api/events/latest": get("The number of the newest event (0 when there is none)", object: "Latest"),
            "/api/events/stream": [
                "get": [
                    "summary": "Events as server-sent events, each with its number as id; resumes after Last-Event-ID or ?after=SEQ, else starts with the last 10",
                    "parameters": [query("after", "Start after this number", integer: true)],
                    "responses": ["200": ["description": "an endless stream", "content": ["text/event-stream": [:]]]],
                ],
            ],
        ],
    ]

    /// - Parameter alternative: another shape the array's items may have (as a parameter asks).
    private static func get(_ summary: String, object: String? = nil, array: String? = nil, alternative: String? = nil, parameters: [JSONValue] = []) -> JSONValue {
        ["get": operation(summary, object: object, array: array, alternative: alternative, parameters: parameters, secured: false)]
    }

    /// A job's fields, as `jobs list --json` prints them.
    private static let jobFields: [String: JSONValue] = [
        "id": "integer", "kind": "string", "queue": "string", "state": .string(JobState.allCases.map(\.rawValue).joined(separator: "|")),
        "priority": "integer", "args": "any", "attempt": "integer", "max_attempts": "integer", "timeout_seconds": "number",
        "backoff_seconds": "number", "backoff_cap_seconds": "number", "run_at": "string", "created_at": "string",
        "attempted_at": "string?", "finished_at": "string?", "heartbeat_at": "string?", "lease_owner": "string?",
        "lease_expires_at": "string?", "idempotency_key": "string?", "server": "string?", "progress": "any", "result": "any",
        "errors": "array",
    ]

    /// An object whose every field is always there: `TYPE`, `TYPE?` (or null), `any`, or
    /// `a|b|c` (one of these strings).
    private static func fields(_ types: [String: JSONValue]) -> JSONValue {
        let properties = types.mapValues { type -> JSONValue in
            let text = type.stringValue ?? "any"
            if text == "any" { return [:] }
            if text.contains("|") { return ["type": "string", "enum": .array(text.split(separator: "|").map { .string(String($0)) })] }
            return text.hasSuffix("?") ? ["type": [.string(String(text.dropLast())), "null"]] : ["type": .string(text)]
        }
        return ["type": "object", "properties": .object(properties), "required": .array(types.keys.sorted().map { .string($0) })]
    }

    /// - Parameters:
    ///   - body: the shape of its JSON body, if it takes one.
    ///   - accepted: whether it may answer 202, for what goes on after the answer.
    private static func post(_ summary: String, object: String?, parameters: [JSONValue], body: String? = nil, accepted: Bool = false) -> JSONValue {
        ["post": operation(summary, object: object, array: nil, parameters: parameters, secured: true, body: body, accepted: accepted)]
    }

    private static func operation(
        _ summary: String, object: String?, array: String?, alternative: String? = nil, parameters: [JSONValue], secured: Bool,
        body: String? = nil, accepted: Bool = false
    ) -> JSONValue {
        let reference: JSONValue = ["$ref": "#/components/schemas/Error"]
        let item = { (name: String) -> JSONValue in ["$ref": .string("#/components/schemas/\(name)")] }
        let schema: JSONValue = if let array {
            ["type": "array", "items": alternative.map { ["anyOf": [item(array), item($0)]] } ?? item(array)]
        } else if let object {
            item(object)
        } else {
            ["type": "object"]
        }
        let refusal = { (description: String) -> JSONValue in ["description": .string(description), "content": ["application/json": ["schema": reference]]] }
        var responses: [String: JSONValue] = [
            "200": ["description": "OK", "content": ["application/json": ["schema": schema]]],
            "400": refusal("bad input"),
            "404": refusal("not found"),
            "405": refusal("another method; Allow names this path's"),
            "421": refusal("a Host this server does not answer to"),
            "503": refusal("the store does not answer, or its file is damaged; for an action, the queue is read-only here"),
        ]
        var fields: [String: JSONValue] = ["summary": .string(summary), "parameters": .array(parameters)]
        if secured {
            responses["401"] = refusal("no or wrong token")
            responses["403"] = refusal("a cross-site request (Sec-Fetch-Site)")
            responses["409"] = refusal("refused, as the CLI refuses it (exit 3)")
            responses["413"] = refusal("a body over 64 KiB")
            fields["security"] = [["token": []]]
        }
        if let body { fields["requestBody"] = ["content": ["application/json": ["schema": item(body)]]] }
        if accepted {
            responses["202"] = ["description": "taken: a running job's cancel is sent to its worker, a server action's stage job is enqueued",
                                "content": ["application/json": ["schema": schema]]]
        }
        fields["responses"] = .object(responses)
        return .object(fields)
    }

    private static func query(_ name: String, _ description: String, integer: Bool = false) -> JSONValue {
        ["name": .string(name), "in": "query", "description": .string(description), "schema": ["type": integer ? "integer" : "string"]]
    }

    private static func path(_ name: String, integer: Bool = false, among values: [String]? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": integer ? "integer" : "string"]
        schema["enum"] = values.map { .array($0.map { .string($0) }) }
        return ["name": .string(name), "in": "path", "required": true, "schema": .object(schema)]
    }
}
