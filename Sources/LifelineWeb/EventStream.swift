import Foundation
import HTTPTypes
import Hummingbird
import LifelineQueue
import ServiceLifecycle

/// `GET /api/events/stream?after=SEQ`: the event log as server-sent events, each with its
/// number as `id`, so a browser that reconnects (sending Last-Event-ID) misses nothing and
/// sees nothing twice. The log is read again a few times a second while nothing is new; a
/// comment every 15 s keeps proxies from closing an idle stream.
struct EventStream: Sendable {
    let jobs: any JobStore

    static let pollInterval: Duration = .milliseconds(250)
    static let keepAlive: Duration = .seconds(15)

    func response(_ request: Request) throws -> Response {
        let resumeFrom = request.headers[.lastEventID] ?? request.uri.queryParameters.get("after")
        guard let after = resumeFrom.map({ Int64($0) }) ?? 0, after >= 0 else {
            throw APIError.badRequest("after must be a whole number from 0")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8"],
            body: ResponseBody { [jobs] writer in
                var last = after
                var quiet = ContinuousClock.now
                // Ends with the client, or when serve shuts down: a stream must not hold it up.
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let events = try await jobs.eventList(EventFilter(afterSeq: last, limit: 500))
                    for event in events {
                        try await writer.write(ByteBuffer(string: "id: \(event.seq)\ndata: \(try LifelineJSON.line(event))\n\n"))
                        last = event.seq
                    }
                    if !events.isEmpty {
                        quiet = .now
                    } else if ContinuousClock.now - quiet > Self.keepAlive {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        quiet = .now
                    }
                    if events.count < 500 { try? await Task.sleep(for: Self.pollInterval) }
                }
                try await writer.finish(nil)
            }
        )
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}
