import HTTPTypes
import Hummingbird

/// Answers a method with 405 and the methods its path takes, rather than the 404 of a path
/// that does not exist. Each path answers the methods a client might try on it itself
/// (``RouterMethods/refuse(_:taking:)``), with its own `Allow`; this middleware refuses the
/// others (PROPFIND, say) on every path, with every method the API takes.
struct MethodCheck<Context: RequestContext>: RouterMiddleware {
    static var apiMethods: [HTTPRequest.Method] { [.get, .head, .post] }
    /// The methods every path answers itself, by its handler or with 405; HEAD goes where GET does.
    static var pathMethods: [HTTPRequest.Method] { [.get, .post, .put, .delete, .patch, .options] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .head || Self.pathMethods.contains(request.method) else {
            return Self.refusal(request.method, "the API reads with GET and acts with POST", allow: Self.apiMethods)
        }
        return try await next(request, context)
    }

    /// 405 for `method` on a path that takes only `allow`.
    static func refusal(_ method: HTTPRequest.Method, _ why: String, allow: [HTTPRequest.Method]) -> Response {
        var response = APIResponse.error(.methodNotAllowed, "method \(method.rawValue) is not taken: \(why)")
        response.headers[.allow] = allow.map(\.rawValue).joined(separator: ", ")
        return response
    }
}

extension RouterMethods {
    /// A path that reads: GET (and HEAD) answer, and any other method is told so with 405.
    func read<Output: ResponseGenerator>(_ path: RouterPath, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        get(path, use: handler)
        refuse(path, taking: [.get, .head])
    }

    /// Answers the methods of ``MethodCheck/pathMethods`` that `path` does not take with
    /// 405 and `Allow: taking`; `check` may first refuse the path itself (one whose name
    /// names nothing, a 404).
    func refuse(_ path: RouterPath, taking: [HTTPRequest.Method], check: @escaping @Sendable (Context) throws -> Void = { _ in }) {
        let why = taking.contains(.post) ? "this path acts, with POST" : "this path reads, with GET"
        for method in MethodCheck<Context>.pathMethods where !taking.contains(method) {
            on(path, method: method) { _, context in
                try check(context)
                return MethodCheck<Context>.refusal(method, why, allow: taking)
            }
        }
    }
}
