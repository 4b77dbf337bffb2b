import Foundation
import Hummingbird
import LifelineQueue
import LifelineRecovery

/// The API's answers: the CLI's JSON shapes, and every failure as `{"error": "…"}` with its
/// status, one line like the CLI's messages.
enum APIResponse {
    /// A 503's words for a failure no store names.
    static let storeDidNotAnswer = "the store did not answer"

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try LifelineJSON.encoder().encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        // A dictionary of strings always encodes.
        (try? json(["error": message], status: status)) ?? Response(status: status)
    }
}

/// A request the API refuses, with the status and message to answer.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, message: message) }
}

/// Turns every error into `{"error": …}`: refusals with the status matching the CLI's exit
/// code (64 → 400, 4 → 404, 3 → 409), anything else (the store failing) as 503, without
/// internals.
struct APIErrors<Context: RequestContext>: RouterMiddleware {
    /// Names a store's failure; others are said as ``APIResponse/storeDidNotAnswer``.
    let describeStoreFailure: @Sendable (any Error) -> String?
    /// Told of every store failure, to keep damage found for `/healthz`.
    let damage: StoreDamage

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            var response = APIResponse.error(error.status, error.message)
            // RFC 9110: a 401 names the scheme that would be let through.
            if error.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
            return response
        } catch let error as JobInputError {
            return APIResponse.error(.badRequest, error.message)
        } catch let error as JobStoreError {
            if case .unknownQueue(let name, let known) = error {
                return APIResponse.error(.notFound, Stage.unknownQueue(name, storeKnows: known).description)
            }
            return APIResponse.error(.conflict, error.description)
        } catch let error as LifecycleError {
            return APIResponse.error(.conflict, error.description)
        } catch let error as ServerStoreError {
            if case .notFound = error { return APIResponse.error(.notFound, error.description) }
            return APIResponse.error(.conflict, error.description)
        } catch let error as any StoreBusy {
            return APIResponse.error(.serviceUnavailable, error.description)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            // The router's: a path no route takes.
            return APIResponse.error(.notFound, "no such path: \(request.uri.path); the dashboard is /, the API is under /api/ (described at /api/openapi.json)")
        } catch let error as HTTPError {
            return APIResponse.error(error.status, error.body ?? error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            let description = describeStoreFailure(error) ?? APIResponse.storeDidNotAnswer
            damage.note(error, described: description)
            return APIResponse.error(.serviceUnavailable, description)
        }
    }
}
