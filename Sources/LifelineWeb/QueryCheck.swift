import Hummingbird
import LifelineQueue

/// Refuses a query parameter an API route does not take: one it would ignore, such as
/// `?recovery_point=` on an action or a misspelt filter on a list, must not let the request go
/// ahead as if it had not been given. So are one without a value (`?limit=`) and one given
/// twice, but for `state`, which lists: neither says which value is meant. Each route reads
/// the values of those it takes. No value holds a control character.
struct QueryCheck<Context: RequestContext>: RouterMiddleware {
    /// The routes that take parameters, and which; every other `/api/` route takes none.
    static var taking: [String: [String]] {
        [
            "/api/jobs": ["state", "queue", "kind", "server", "retried", "since", "limit", "before", "brief"],
            "/api/events": ["after", "job", "server", "type", "since", "limit"],
            "/api/events/stream": ["after"],
        ]
    }

    /// The parameters given once per value, like the CLI's repeatable options.
    static var repeatable: Set<String> { ["state", "type"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/"), let first = request.uri.queryParameters.first?.key else { return try await next(request, context) }
        guard let names = Self.taking[path] else {
            let hint = request.method == .post ? "; an action's options go in its JSON body" : ""
            throw APIError.badRequest("\(path) takes no query parameters (got '\(first)')\(hint)")
        }
        let parameters = request.uri.queryParameters
        if let unknown = parameters.first(where: { !names.contains(String($0.key)) })?.key {
            throw APIError.badRequest("unknown parameter '\(unknown)'; parameters: \(names.joined(separator: ", "))")
        }
        if let empty = parameters.first(where: { $0.value.isEmpty })?.key {
            throw APIError.badRequest("parameter '\(empty)' has no value; leave it out, or give one")
        }
        // The store would read a value up to a NUL, so `queue=default%00x` would list `default`.
        if let control = parameters.first(where: { JobLimits.containsControlCharacter(String($0.value)) })?.key {
            throw APIError.badRequest("parameter '\(control)' holds a control character; no name has one")
        }
        if let twice = names.first(where: { !Self.repeatable.contains($0) && parameters.getAll($0).count > 1 }) {
            throw APIError.badRequest("parameter '\(twice)' is given twice; give it once")
        }
        return try await next(request, context)
    }
}
