import Hummingbird

/// Refuses query parameters on the API routes that take none (and on the event stream, any
/// but `after`): a parameter the route would ignore, such as `?recovery_point=` on an action,
/// must not let it go ahead as if it had not been given. The job and event lists check theirs.
struct QueryCheck<Context: RequestContext>: RouterMiddleware {
    /// The lists, which check their own parameters, and the routes that take some.
    static var checkingTheirOwn: Set<String> { ["/api/jobs", "/api/events"] }
    static var taking: [String: [String]] { ["/api/events/stream": ["after"]] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/"), !Self.checkingTheirOwn.contains(path), let name = request.uri.queryParameters.first?.key else {
            return try await next(request, context)
        }
        switch Self.taking[path] {
        case let names?:
            if let unknown = request.uri.queryParameters.first(where: { !names.contains(String($0.key)) })?.key {
                throw APIError.badRequest("unknown parameter '\(unknown)'; parameters: \(names.joined(separator: ", "))")
            }
        case nil:
            throw APIError.badRequest("\(path) takes no query parameters (got '\(name)'); an action's options go in its JSON body")
        }
        return try await next(request, context)
    }
}
