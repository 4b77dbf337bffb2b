import HTTPTypes
import Hummingbird

/// On a loopback address, answers only requests addressed to this machine by name or number.
/// A page elsewhere that points its own host name at 127.0.0.1 (DNS rebinding) would otherwise
/// read the API as if it were its own site; its requests still name its host, and are refused.
struct HostCheck<Context: RequestContext>: RouterMiddleware {
    static var loopbackNames: Set<String> { ["localhost", "127.0.0.1", "[::1]", "::1"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, Self.loopbackNames.contains(Self.name(host)) else {
            throw APIError(status: .misdirectedRequest, message: "this server answers requests to localhost only")
        }
        return try await next(request, context)
    }

    /// The host without its port.
    static func name(_ authority: String) -> String {
        if authority.hasPrefix("[") { return String(authority.prefix { $0 != "]" }) + "]" }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }
}
