import HTTPTypes
import Hummingbird

/// Answers a method the API never takes (PUT, DELETE, …) with 405 and the methods it does,
/// rather than the 404 of a path that does not exist.
struct MethodCheck<Context: RequestContext>: RouterMiddleware {
    static var taken: [HTTPRequest.Method] { [.get, .head, .post] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.taken.contains(request.method) else {
            var response = APIResponse.error(.methodNotAllowed, "method \(request.method.rawValue) is not taken; the API reads with GET and acts with POST")
            response.headers[.allow] = Self.taken.map(\.rawValue).joined(separator: ", ")
            return response
        }
        return try await next(request, context)
    }

    /// The answer to a POST to a path that only reads.
    static func readOnly() -> Response {
        refusal("this path reads, with GET; the API acts with POST on its action paths", allow: "GET, HEAD")
    }

    /// The answer to a read of a path that only acts.
    static func postOnly() -> Response {
        refusal("this path acts, with POST; the API reads with GET elsewhere", allow: "POST")
    }

    private static func refusal(_ message: String, allow: String) -> Response {
        var response = APIResponse.error(.methodNotAllowed, message)
        response.headers[.allow] = allow
        return response
    }
}

extension Router {
    /// A path that reads: GET (and HEAD) answer; a POST, which acts on other paths only, is
    /// told so with 405 rather than the 404 of a path that does not exist.
    func read<Output: ResponseGenerator>(_ path: RouterPath, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        get(path, use: handler)
        post(path) { _, _ in MethodCheck<Context>.readOnly() }
    }
}
