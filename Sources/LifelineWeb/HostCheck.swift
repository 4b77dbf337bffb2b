import HTTPTypes
import Hummingbird

/// On a loopback address, answers only requests addressed to this machine by name or number.
/// A page elsewhere that points its own host name at 127.0.0.1 (DNS rebinding) would otherwise
/// read the API as if it were its own site; its requests still name its host, and are refused.
struct HostCheck<Context: RequestContext>: RouterMiddleware {
    /// The names a request may give, lowercased: this machine's, and the address served.
    let names: Set<String>

    /// - Parameter served: the loopback address or name `serve` listens on (127.0.0.2, say).
    init(served: String) {
        let served = served.lowercased()
        names = ["localhost", "127.0.0.1", "[::1]", served.contains(":") ? "[\(served)]" : served]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Only HTTP/1.0 may leave out Host, and no browser does: such a request is no page's.
        guard let authority = request.head.authority else { return try await next(request, context) }
        // The first names the request's host here; a second (left among the fields) could name
        // another to whatever reads it next. HTTP/1.1 has a request with two refused.
        guard request.headers[values: HTTPField.Name("Host")!].isEmpty else {
            throw APIError(status: .badRequest, message: "a request names its host once: this one has more than one Host header")
        }
        guard let name = Self.name(authority), names.contains(name) else {
            throw APIError(status: .misdirectedRequest, message: "this server answers requests to \(names.sorted().joined(separator: ", ")) only")
        }
        return try await next(request, context)
    }

    /// The host of `HOST[:PORT]` or `[IPV6][:PORT]`, lowercased; nil when anything else follows
    /// it (`127.0.0.1:80.evil.example` names another host).
    static func name(_ authority: String) -> String? {
        let text = authority.lowercased()
        let end = text.hasPrefix("[") ? text.firstIndex(of: "]").map(text.index(after:)) : text.firstIndex(of: ":") ?? text.endIndex
        guard let end else { return nil }
        let port = text[end...]
        guard port.isEmpty || (port.first == ":" && (2...6).contains(port.count) && port.dropFirst().allSatisfy { $0.isASCII && $0.isNumber })
        else { return nil }
        return String(text[..<end])
    }
}
