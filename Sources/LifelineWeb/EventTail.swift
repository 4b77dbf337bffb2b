import Foundation
import LifelineQueue
import Logging
import ServiceLifecycle
import Synchronization

/// The one reader of new events in `serve`: it follows the log from where it ended at start,
/// hands each event to the metrics, keeps the latest for the live streams, and wakes them when
/// there is something new. So a scrape reads no events at all, a stream with nothing to send
/// costs nothing, and streams that have caught up send what the tail read, with no read of
/// their own: hundreds of open dashboards made hundreds of reads per burst of events, behind
/// which every other read of `serve` waited (its health check answered 503 for seconds).
final class EventTail: Service, Sendable {
    private let jobs: any JobStore
    private let metrics: QueueMetrics
    /// Starts calling its argument after each commit of any process; nil where nothing can tell.
    private let watchChanges: WebAPI.ChangeWatch
    /// A store failure in an operator's words, for the log.
    private let describe: @Sendable (any Error) -> String?
    private let logger = Logger(label: "lifeline.serve")
    private let listeners = Mutex<[ObjectIdentifier: Doorbell]>([:])
    /// Where the log ended when serve started: what comes after is counted.
    private let start = Mutex<Int64?>(nil)
    /// The latest events read, in order, as the streams send them (encoded once for all of
    /// them), and the number after which they are all there.
    private let recent = Mutex<(after: Int64?, frames: [EventStream.Frame])>((nil, []))
    /// How many of the latest events are kept for the streams.
    static let kept = 4096

    /// Events read at a time; more are read at once.
    static let batch = 1000
    /// How long the tail waits for a change notice before it looks anyway.
    static let patience: Duration = .seconds(1)

    init(jobs: any JobStore, metrics: QueueMetrics, watchChanges: @escaping WebAPI.ChangeWatch, describe: @escaping @Sendable (any Error) -> String?) {
        self.jobs = jobs
        self.metrics = metrics
        self.watchChanges = watchChanges
        self.describe = describe
    }

    /// Rings `doorbell` after each batch of new events, until `stopListening`.
    func listen(_ doorbell: Doorbell) {
        listeners.withLock { $0[ObjectIdentifier(doorbell)] = doorbell }
    }

    func stopListening(_ doorbell: Doorbell) {
        _ = listeners.withLock { $0.removeValue(forKey: ObjectIdentifier(doorbell)) }
    }

    /// The frames of the events after `seq`, at most `limit`, from those the tail read; nil
    /// when it has not all of them (`seq` is before what it keeps), for the caller to read
    /// from the store.
    func frames(after seq: Int64, limit: Int) -> [EventStream.Frame]? {
        recent.withLock { recent in
            guard let after = recent.after, seq >= after else { return nil }
            // In order of their numbers: the first after `seq` by halving.
            var low = recent.frames.startIndex, high = recent.frames.endIndex
            while low < high {
                let middle = (low + high) / 2
                if recent.frames[middle].seq > seq { high = middle } else { low = middle + 1 }
            }
            return Array(recent.frames[low...].prefix(limit))
        }
    }

    private func keep(_ events: [JobEvent], after seq: Int64) {
        // An event that cannot be written leaves the streams to read from the store.
        let frames = try? events.map(EventStream.Frame.init)
        recent.withLock { recent in
            guard let frames else {
                recent = (nil, [])
                return
            }
            if recent.after == nil { recent.after = seq }
            recent.frames += frames
            let over = recent.frames.count - Self.kept
            guard over > 0 else { return }
            recent.after = recent.frames[over - 1].seq
            recent.frames.removeFirst(over)
        }
    }

    /// Finds where the log ends, before serve listens: whatever a client sees happen after it
    /// can reach serve is counted.
    func findEnd() async throws {
        let newest = try await newestSeq()
        // Attempts under way began before the end: their starts come from their rows, so
        // their durations are measured when they end.
        metrics.seed(running: try await jobs.jobList(JobFilter(states: [.running])))
        start.withLock { $0 = newest }
    }

    private func newestSeq() async throws -> Int64 {
        try await jobs.eventList(EventFilter(limit: 1, newestFirst: true)).first?.seq ?? 0
    }

    func run() async throws {
        let changes = Doorbell()
        let watcher: (any Sendable)?
        do {
            watcher = try watchChanges { changes.ring() }
        } catch {
            watcher = nil
            logger.warning("no notice of commits (\(describe(error) ?? "\(error)")): the counters and the event stream look for new events each second")
        }
        defer { withExtendedLifetime(watcher) {} }
        await cancelWhenGracefulShutdown {
            // The past is in `events` and `stats`.
            var last = self.start.withLock { $0 }
            // Said once when the log cannot be read, and once when it can again.
            var failing = false
            while !Task.isCancelled {
                do {
                    // WebServer finds the end before it listens; a tail run without that finds it here.
                    guard let after = last else {
                        last = try await self.newestSeq()
                        continue
                    }
                    let events = try await self.jobs.eventList(EventFilter(afterSeq: after, limit: Self.batch))
                    if failing {
                        failing = false
                        self.logger.notice("reading new events again")
                    }
                    if let newest = events.last?.seq {
                        self.keep(events, after: after)
                        last = newest
                        self.metrics.record(events)
                        for listener in self.listeners.withLock({ Array($0.values) }) { listener.ring() }
                    }
                    if events.count == Self.batch { continue }
                } catch {
                    // The store may be restarting; the next look may find it again.
                    if !failing, !Task.isCancelled {
                        self.logger.error("cannot read new events: \(self.describe(error) ?? "\(error)"); the counters and the event stream wait for them")
                    }
                    failing = true
                }
                await changes.wait(timeout: Self.patience)
            }
        }
    }
}
