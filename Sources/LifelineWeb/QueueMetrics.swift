import Foundation
import LifelineQueue
import LifelineRecovery
import Metrics
import Prometheus
import Synchronization

/// `/metrics`, in Prometheus's text format through swift-metrics. Two sources, both read at
/// each scrape:
/// - what the store holds now, from its counts: jobs by queue and state, each queue's oldest
///   waiting job, running jobs, servers by state, and how long each server has been in a
///   transitional state;
/// - what happened since `serve` started, from the event log after the last event read:
///   completions, failed attempts, retries, discards, lease losses, and attempt durations by
///   kind (recovery stages are kinds `recovery.*`).
final class QueueMetrics: Sendable {
    private struct Attempt: Hashable {
        var job: Int64
        var attempt: Int64
    }

    private struct Follow {
        /// The last event read; nil until the first scrape finds where the log ends.
        var lastSeq: Int64?
        /// Attempts seen starting, until their end is seen.
        var started: [Attempt: (at: Date, kind: String)] = [:]
        /// The transitional servers last reported, to drop those that have come to rest.
        var transitional: Set<[String]> = []
    }

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let follow = Mutex(Follow())
    /// Events read per scrape at most: a scrape after a long pause catches up over several.
    private static let eventsPerScrape = 50_000

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10), .seconds(60), .seconds(300), .seconds(1800),
            .seconds(3600), .seconds(4 * 3600),
        ]
        self.factory = factory
        // Present from the first scrape, at zero, so that rates and alerts need no absent().
        for name in Self.counters { _ = counter(name) }
    }

    private static let counters = [
        "lifeline_jobs_completed_total", "lifeline_job_attempts_failed_total", "lifeline_job_retries_total",
        "lifeline_jobs_discarded_total", "lifeline_lease_losses_total",
    ]

    /// Brings every metric up to date and returns the text to serve.
    func scrape(jobs: any JobStore, servers: any ServerStore) async throws -> String {
        try await readState(jobs: jobs, servers: servers)
        try await readEvents(jobs)
        return registry.emitToString()
    }

    private func readState(jobs: any JobStore, servers: any ServerStore) async throws {
        let stats = try await jobs.statsGet()
        var running = 0
        for (queue, counts) in stats.counts {
            for state in JobState.allCases {
                let count = counts[state] ?? 0
                gauge("lifeline_jobs", [("queue", queue), ("state", state.rawValue)]).record(count)
                if state == .running { running += count }
            }
            let oldest = stats.oldestWaiting[queue].map { Double($0.milliseconds) / 1000 } ?? 0
            gauge("lifeline_queue_oldest_waiting_seconds", [("queue", queue)]).record(oldest)
        }
        gauge("lifeline_jobs_running", []).record(running)
        let all = try await servers.serverList()
        for state in ServerState.allCases {
            gauge("lifeline_servers", [("state", state.rawValue)]).record(all.filter { $0.state == state }.count)
        }
        var transitional: Set<[String]> = []
        for server in all where !server.state.isResting {
            let since = try await servers.serverHistory(server.name).last?.at ?? Date()
            gauge("lifeline_server_transitional_seconds", [("server", server.name), ("state", server.state.rawValue)])
                .record(Date().timeIntervalSince(since))
            transitional.insert([server.name, server.state.rawValue])
        }
        // A server that moved on leaves no series behind: an alert on it would fire forever.
        let gone = follow.withLock { follow in
            defer { follow.transitional = transitional }
            return follow.transitional.subtracting(transitional)
        }
        for labels in gone {
            gauge("lifeline_server_transitional_seconds", [("server", labels[0]), ("state", labels[1])]).destroy()
        }
    }

    private func readEvents(_ jobs: any JobStore) async throws {
        guard let after = follow.withLock({ $0.lastSeq }) else {
            // Counting starts now: the past is in `events` and `stats`, not worth a scan here.
            let last = try await jobs.eventList(EventFilter(limit: 1, newestFirst: true)).first?.seq ?? 0
            follow.withLock { $0.lastSeq = last }
            return
        }
        let events = try await jobs.eventList(EventFilter(afterSeq: after, limit: Self.eventsPerScrape))
        follow.withLock { follow in
            // Scrapes may overlap: each event counts once, whichever scrape reads it first.
            let last = follow.lastSeq ?? after
            for event in events where event.seq > last { count(event, &follow) }
            follow.lastSeq = max(last, events.last?.seq ?? after)
        }
    }

    private func count(_ event: JobEvent, _ follow: inout Follow) {
        guard let job = event.job, let attemptNumber = event.data["attempt"]?.intValue else {
            if event.type == .snoozed || event.type == .released { end(event, &follow) }
            return
        }
        let attempt = Attempt(job: job, attempt: attemptNumber)
        switch event.type {
        case .started:
            follow.started[attempt] = (event.at, event.data["kind"]?.stringValue ?? "unknown")
        case .completed:
            counter("lifeline_jobs_completed_total").increment()
            observe(attempt, event, &follow)
        case .retrying, .discarded:
            counter("lifeline_job_attempts_failed_total").increment()
            counter(event.type == .retrying ? "lifeline_job_retries_total" : "lifeline_jobs_discarded_total").increment()
            if event.data["error"]?.stringValue?.hasPrefix("lease expired") == true { counter("lifeline_lease_losses_total").increment() }
            observe(attempt, event, &follow)
        case .cancelled:
            observe(attempt, event, &follow)
        default:
            break
        }
    }

    /// An attempt that ended without saying which (snoozed, released): forget its start.
    private func end(_ event: JobEvent, _ follow: inout Follow) {
        guard let job = event.job else { return }
        follow.started = follow.started.filter { $0.key.job != job }
    }

    private func observe(_ attempt: Attempt, _ event: JobEvent, _ follow: inout Follow) {
        guard let start = follow.started.removeValue(forKey: attempt) else { return }
        let seconds = max(event.at.timeIntervalSince(start.at), 0)
        Metrics.Timer(label: "lifeline_job_duration_seconds", dimensions: [("kind", start.kind)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Metrics.Gauge {
        Metrics.Gauge(label: name, dimensions: labels, factory: factory)
    }

    private func counter(_ name: String) -> Metrics.Counter {
        Metrics.Counter(label: name, factory: factory)
    }
}
