import HTTPTypes
import Hummingbird

/// Lets an action through only with the server's token in `Authorization: Bearer …`. A page
/// of another site can neither read the token nor make a browser add that header, so a
/// request that carries it was not forged by one; requests a browser marks as cross-site
/// are refused outright.
struct ActionGuard<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.headers[.secFetchSite] == "cross-site" {
            throw APIError(status: .forbidden, message: "cross-site requests cannot act")
        }
        guard let given = request.headers[.authorization], Self.bearer(given).map({ Self.same($0, token) }) == true else {
            throw APIError(status: .unauthorized, message: "actions need the token: Authorization: Bearer TOKEN (LIFELINE_TOKEN, or the one serve printed)")
        }
        return try await next(request, context)
    }

    /// The token of `Bearer TOKEN`; the scheme's name is case-insensitive (RFC 9110).
    static func bearer(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].drop { $0 == " " }
    }

    /// Compares in time that depends on the length only, not on where the first difference is.
    static func same(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension HTTPField.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
}
