import LifelineQueue

/// `GET /api/openapi.json`: the API described in OpenAPI 3.1, for clients and for people.
/// The shapes of jobs, servers and events are the CLI's; they are named here, not repeated.
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
                "Error": ["type": "object", "properties": ["error": ["type": "string"]], "required": ["error"]],
                "Job": ["type": "object", "description": "As `lifeline jobs list --json` prints one"],
                "Queue": ["type": "object", "description": "As `lifeline queues list --json` prints one"],
                "Stats": ["type": "object", "description": "As `lifeline stats --json` prints it"],
                "Server": ["type": "object", "description": "As `lifeline server show NAME --json` prints it"],
                "Transition": ["type": "object", "description": "As `lifeline server history NAME --json` prints one"],
                "Event": ["type": "object", "description": "As `lifeline events --json` prints one"],
                "ActionResult": ["type": "object", "properties": ["job": ["type": "integer"], "existing": ["type": "boolean"], "server": ["oneOf": [["$ref": "#/components/schemas/Server"], ["type": "null"]]]]],
            ],
        ],
        "paths": [
            "/healthz": get("Whether the store answers (503 when it does not)", object: "Health"),
            "/metrics": ["get": ["summary": "Prometheus text format; lifeline_store_up 0 while the store does not answer", "responses": ["200": ["description": "metrics", "content": ["text/plain": [:]]]]]],
            "/api/jobs": get("Jobs, newest first", array: "Job", parameters: [
                query("state", "A state to list (repeatable)"), query("queue", "Only this queue"), query("kind", "Only this kind"),
                query("server", "Only jobs of this recovery server"), query("retried", "true: only jobs attempted more than once"),
                query("since", "Only jobs created, run or finished within this long (e.g. 1h)"),
                query("before", "Only jobs older than this id: the next page", integer: true),
                query("limit", "At most this many (1–1000, default 50)", integer: true),
            ]),
            "/api/jobs/{id}": get("A job with its events, as jobs show --json gives it", object: "Job", parameters: [path("id", integer: true)]),
            "/api/jobs/{id}/retry": post("Retry a discarded or cancelled job, or run a retryable or scheduled one now (not a recovery stage)", object: "Job", parameters: [path("id", integer: true)]),
            "/api/jobs/{id}/cancel": post("Cancel a job: 200 at once if waiting, 202 if running", object: nil, parameters: [path("id", integer: true)]),
            "/api/queues": get("Queues with their settings and counts", array: "Queue"),
            "/api/queues/{name}/pause": post("Pause a queue", object: "Queue", parameters: [path("name")]),
            "/api/queues/{name}/resume": post("Resume a queue", object: "Queue", parameters: [path("name")]),
            "/api/stats": get("Counts, oldest waiting job per queue, throughput", object: "Stats"),
            "/api/servers": get("Recovery servers", array: "Server"),
            "/api/servers/{name}": get("A recovery server", object: "Server", parameters: [path("name")]),
            "/api/servers/{name}/history": get("A server's transitions", array: "Transition", parameters: [path("name")]),
            "/api/servers/{name}/{action}": post(
                "A server action (failover, test-failover, cancel-failover, failback, confirm-failback, cancel-failback, stop-test, retry, delete); optional JSON body {\"recovery_point\", \"idempotency_key\"}",
                object: "ActionResult", parameters: [path("name"), path("action")]
            ),
            "/api/events": get("Events after a number, oldest first", array: "Event", parameters: [
                query("after", "Only events after this number (default 0)", integer: true), query("job", "Only this job's", integer: true),
                query("server", "Only this server's"), query("type", "An event type to list (repeatable)"),
                query("since", "Only events within this long (e.g. 1h)"), query("limit", "At most this many (1–1000, default 100)", integer: true),
            ]),
            "/api/events/latest": get("The number of the newest event", object: nil),
            "/api/events/stream": [
                "get": [
                    "summary": "Events as server-sent events, each with its number as id; resumes after Last-Event-ID or ?after=SEQ, else starts with the last 10",
                    "parameters": [query("after", "Start after this number", integer: true)],
                    "responses": ["200": ["description": "an endless stream", "content": ["text/event-stream": [:]]]],
                ],
            ],
        ],
    ]

    private static func get(_ summary: String, object: String? = nil, array: String? = nil, parameters: [JSONValue] = []) -> JSONValue {
        ["get": operation(summary, object: object, array: array, parameters: parameters, secured: false)]
    }

    private static func post(_ summary: String, object: String?, parameters: [JSONValue]) -> JSONValue {
        ["post": operation(summary, object: object, array: nil, parameters: parameters, secured: true)]
    }

    private static func operation(_ summary: String, object: String?, array: String?, parameters: [JSONValue], secured: Bool) -> JSONValue {
        let reference: JSONValue = ["$ref": "#/components/schemas/Error"]
        let schema: JSONValue = if let array {
            ["type": "array", "items": ["$ref": .string("#/components/schemas/\(array)")]]
        } else if let object, object != "Health" {
            ["$ref": .string("#/components/schemas/\(object)")]
        } else {
            ["type": "object"]
        }
        var responses: [String: JSONValue] = [
            "200": ["description": "OK", "content": ["application/json": ["schema": schema]]],
            "400": ["description": "bad input", "content": ["application/json": ["schema": reference]]],
            "404": ["description": "not found", "content": ["application/json": ["schema": reference]]],
        ]
        var fields: [String: JSONValue] = ["summary": .string(summary), "parameters": .array(parameters)]
        if secured {
            responses["401"] = ["description": "no or wrong token", "content": ["application/json": ["schema": reference]]]
            responses["409"] = ["description": "refused, as the CLI refuses it (exit 3)", "content": ["application/json": ["schema": reference]]]
            fields["security"] = [["token": []]]
        }
        fields["responses"] = .object(responses)
        return .object(fields)
    }

    private static func query(_ name: String, _ description: String, integer: Bool = false) -> JSONValue {
        ["name": .string(name), "in": "query", "description": .string(description), "schema": ["type": integer ? "integer" : "string"]]
    }

    private static func path(_ name: String, integer: Bool = false) -> JSONValue {
        ["name": .string(name), "in": "path", "required": true, "schema": ["type": integer ? "integer" : "string"]]
    }
}
