import Foundation
import HTTPTypes
import Hummingbird
import LifelineQueue
import ServiceLifecycle

/// `GET /api/events/stream?after=SEQ`: the event log as server-sent events, each with its
/// number as `id`, so a browser that reconnects (sending Last-Event-ID) misses nothing and
/// sees nothing twice. Told neither, it starts with the last ``backlog`` events, like
/// `events --follow`: a log of millions is not replayed to whoever looks in. A stream looks
/// when ``EventTail`` says something is new, so an idle one costs nothing, and once caught up
/// sends what the tail read, without reading the log itself; a comment
/// every 15 s keeps proxies from closing it, and is how a closed connection is found.
struct EventStream: Sendable {
    let jobs: any JobStore
    let tail: EventTail

    /// An event as the stream sends it: its number as `id`, the event as `data`.
    struct Frame: Sendable {
        let seq: Int64
        let text: String

        init(_ event: JobEvent) throws {
            seq = event.seq
            text = "id: \(event.seq)\ndata: \(try LifelineJSON.line(event))\n\n"
        }
    }

    static let batch = 500
    static let backlog = 10
    static let keepAlive: Duration = .seconds(15)
    /// How soon a read the store failed is tried again.
    static let retry: Duration = .seconds(1)

    func response(_ request: Request) async throws -> Response {
        // A browser that reconnects says where it was in the header, which wins over the URL's.
        let header = request.headers[.lastEventID]
        let resumeFrom = header ?? request.uri.queryParameters.get("after")
        var told: Int64?
        if let resumeFrom {
            guard let number = Int64(resumeFrom), number >= 0 else {
                throw APIError.badRequest("\(header == nil ? "after" : "the Last-Event-ID header") must be a whole number from 0 to \(Int64.max)")
            }
            told = number
        }
        let (after, restart) = try await start(after: told)
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8"],
            body: ResponseBody { [jobs, tail] writer in
                let news = Doorbell()
                // Listening starts before the first read, so nothing lands unseen in between.
                tail.listen(news)
                defer { tail.stopListening(news) }
                // Ends with the client, or when serve shuts down: a stream must not hold it up.
                // Its id is where the stream starts: a browser that reconnects next resumes there.
                if restart { try await writer.write(ByteBuffer(string: "event: restart\nid: \(after)\ndata: {}\n\n")) }
                try await withGracefulShutdownHandler {
                    var last = after
                    var written = ContinuousClock.now
                    // A comment when nothing was written for a while: proxies keep the stream, and a
                    // closed connection is found.
                    func keepAlive() async throws {
                        guard ContinuousClock.now - written >= Self.keepAlive else { return }
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        written = .now
                    }
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        let frames: [Frame]
                        do {
                            // Caught up, what the tail read; behind it (a backlog, a resume), the store.
                            if let kept = tail.frames(after: last, limit: Self.batch) {
                                frames = kept
                            } else {
                                frames = try await jobs.eventList(EventFilter(afterSeq: last, limit: Self.batch)).map(Frame.init)
                            }
                        } catch {
                            // The store may be restarting: the stream waits for it, as the tail does,
                            // rather than end mid-response, which left a client waiting for ever.
                            await news.wait(timeout: Self.retry)
                            try await keepAlive()
                            continue
                        }
                        // One write for all of them: with hundreds of streams open, a write per
                        // event per stream kept serve's threads from everything else in a burst.
                        if let newest = frames.last?.seq {
                            try await writer.write(ByteBuffer(string: frames.map(\.text).joined()))
                            last = newest
                            written = .now
                        }
                        if frames.count == Self.batch { continue }
                        try await keepAlive()
                        await news.wait(timeout: Self.keepAlive - (ContinuousClock.now - written))
                    }
                } onGracefulShutdown: {
                    news.ring()
                }
                try await writer.finish(nil)
            }
        )
    }

    /// Where a stream starts: after `told`, or, told nothing, just before the last ``backlog``
    /// events (0 when there are fewer). A log that ends before `told` is another log (serve
    /// restarted on a replaced or other database, and a browser resumed where it was): the
    /// stream starts as a new one does, and says `restart` first, so the page drops what it showed.
    private func start(after told: Int64?) async throws -> (after: Int64, restart: Bool) {
        let newest = try await jobs.eventList(EventFilter(limit: Self.backlog, newestFirst: true))
        let backlogStart = newest.count < Self.backlog ? 0 : (newest.last?.seq ?? 1) - 1
        guard let told else { return (backlogStart, false) }
        return told > (newest.first?.seq ?? 0) ? (backlogStart, true) : (told, false)
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}
