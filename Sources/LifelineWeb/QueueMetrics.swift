import Foundation
import LifelineQueue
import LifelineRecovery
import Prometheus
import Synchronization

/// `/metrics`, in Prometheus's text format (swift-prometheus), each metric with its help. Two sources:
/// - what the store holds now, read at each scrape from its kept counts: jobs by queue and
///   state, each queue's oldest waiting job, running jobs, servers by state, and how long
///   each server has been in a transitional state (all left out, with `lifeline_store_up` 0,
///   while the store does not answer);
/// - what happened since `serve` started, recorded as ``EventTail`` reads the event log:
///   completions, failed attempts, retries, discards, lease losses, and attempt durations by
///   kind (recovery stages are kinds `recovery.*`).
final class QueueMetrics: Sendable {
    private struct Follow {
        /// Per job, its attempt seen starting, until its end is seen.
        var started: [Int64: (attempt: Int64, at: Date, kind: String)] = [:]
    }

    /// One gauge's name and labels.
    private struct Series: Hashable {
        let name: String
        let labels: [String: String]
        init(_ name: String, _ labels: [String: String]) {
            self.name = name
            self.labels = labels
        }
    }

    private let registry = PrometheusCollectorRegistry()
    private let follow = Mutex(Follow())
    /// The store's gauges last set, to drop those it no longer holds; held while a scrape sets
    /// and emits, so that two at once (a pair of Prometheus servers) each serve one reading.
    private let storeSeries = Mutex<Set<Series>>([])

    init() {
        // Present from the first scrape, at zero, so that rates and alerts need no absent().
        for name in Self.counters { _ = counter(name) }
    }

    private static let counters = [
        "lifeline_jobs_completed_total", "lifeline_job_attempts_failed_total", "lifeline_job_retries_total",
        "lifeline_jobs_discarded_total", "lifeline_lease_losses_total",
    ]

    /// Each metric's `# HELP` line, as the README's tables say it.
    private static let help = [
        "lifeline_store_up": "1 when this scrape read the store, else 0 (the store's gauges are left out then; /healthz says why).",
        "lifeline_jobs": "Jobs in each state, by queue.",
        "lifeline_jobs_running": "Jobs running now, all queues.",
        "lifeline_queue_oldest_waiting_seconds": "Age of the oldest job waiting to run in the queue (0 when none).",
        "lifeline_queue_paused": "1 while the queue is paused (its jobs wait by design), else 0.",
        "lifeline_servers": "Recovery servers in each state.",
        "lifeline_server_transitional_seconds": "How long the server has been in its transitional state.",
        "lifeline_jobs_completed_total": "Jobs completed since serve started.",
        "lifeline_job_attempts_failed_total": "Failed attempts (retried or discarded) since serve started.",
        "lifeline_job_retries_total": "Failed attempts that will be retried, since serve started.",
        "lifeline_jobs_discarded_total": "Jobs failed for good since serve started.",
        "lifeline_lease_losses_total": "Attempts lost with their worker's lease since serve started.",
        "lifeline_job_duration_seconds": "Attempt durations by job kind (recovery stages are kinds recovery.*), since serve started.",
    ]

    private static let durationBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10), .seconds(60), .seconds(300), .seconds(1800),
        .seconds(3600), .seconds(4 * 3600),
    ]

    /// Brings the store's gauges up to date and returns the text to serve. `storeProblem`
    /// runs the store's reads and says why they failed, or nil; a store that does not answer
    /// leaves `lifeline_store_up` at 0 and only what was counted since serve started, as an
    /// exporter does whose source is down, so that Prometheus's own `up` still says whether
    /// serve itself answers.
    func scrape(
        jobs: any JobStore, servers: any ServerStore,
        storeProblem: (_ read: () async throws -> Void) async -> String?
    ) async -> String {
        var values: [Series: Double] = [:]
        let problem = await storeProblem {
            values = try await StoreDeadline.value(of: Task { try await readState(jobs: jobs, servers: servers) })
        }
        return storeSeries.withLock { last in
            apply(problem == nil ? values : [:], replacing: &last)
            gauge(Series("lifeline_store_up", [:])).set(Int64(problem == nil ? 1 : 0))
            return registry.emitToString()
        }
    }

    /// The attempts running when serve started, whose `started` events come before what it
    /// follows.
    func seed(running: [Job]) {
        follow.withLock { follow in
            for job in running {
                guard let at = job.attemptedAt, follow.started[job.id] == nil else { continue }
                follow.started[job.id] = (Int64(job.attempt), at, job.kind)
            }
        }
    }

    /// Counts new events, each once, in the order of the log.
    func record(_ events: [JobEvent]) {
        follow.withLock { follow in
            for event in events { count(event, &follow) }
        }
    }

    /// The store's gauges, read in full before any is set, so that a read that fails halfway
    /// leaves no mix of old and new values.
    private func readState(jobs: any JobStore, servers: any ServerStore) async throws -> [Series: Double] {
        var values: [Series: Double] = [:]
        let stats = try await jobs.statsGet()
        var running = 0
        for (queue, counts) in stats.counts {
            for state in JobState.allCases {
                let count = counts[state] ?? 0
                values[Series("lifeline_jobs", ["queue": queue, "state": state.rawValue])] = Double(count)
                if state == .running { running += count }
            }
            let oldest = stats.oldestWaiting[queue].map { Double($0.milliseconds) / 1000 } ?? 0
            values[Series("lifeline_queue_oldest_waiting_seconds", ["queue": queue])] = oldest
        }
        values[Series("lifeline_jobs_running", [:])] = Double(running)
        // An alert on a queue's oldest waiting job leaves out a queue paused on purpose.
        for queue in try await jobs.queueList() {
            values[Series("lifeline_queue_paused", ["queue": queue.name])] = queue.paused ? 1 : 0
        }
        let all = try await servers.serverList()
        for state in ServerState.allCases {
            values[Series("lifeline_servers", ["state": state.rawValue])] = Double(all.filter { $0.state == state }.count)
        }
        // By the store's clock, which stamped the move (on PostgreSQL the server's).
        let now = jobs.now
        for server in all where !server.state.isResting {
            let since = server.stateSince ?? now
            values[Series("lifeline_server_transitional_seconds", ["server": server.name, "state": server.state.rawValue])] =
                max(now.timeIntervalSince(since), 0)
        }
        return values
    }

    /// Sets the store's gauges to `values`, and removes those it no longer holds: a server
    /// that moved on, or every one while the store does not answer, leaves no series behind
    /// (an alert on a stale one would fire, or hold, for ever).
    private func apply(_ values: [Series: Double], replacing last: inout Set<Series>) {
        for series in last.subtracting(values.keys) { registry.unregisterGauge(gauge(series)) }
        for (series, value) in values { gauge(series).set(value) }
        last = Set(values.keys)
    }

    private func count(_ event: JobEvent, _ follow: inout Follow) {
        guard let job = event.job else { return }
        guard let attempt = event.data["attempt"]?.intValue else {
            // An attempt that ended without saying which (snoozed, released): forget its start.
            if event.type == .snoozed || event.type == .released { follow.started[job] = nil }
            return
        }
        switch event.type {
        case .started:
            follow.started[job] = (attempt, event.at, event.data["kind"]?.stringValue ?? "unknown")
        case .completed:
            counter("lifeline_jobs_completed_total").increment()
            observe(job, attempt, event, &follow)
        case .retrying, .discarded:
            counter("lifeline_job_attempts_failed_total").increment()
            counter(event.type == .retrying ? "lifeline_job_retries_total" : "lifeline_jobs_discarded_total").increment()
            if event.data["error"]?.stringValue?.hasPrefix("lease expired") == true { counter("lifeline_lease_losses_total").increment() }
            observe(job, attempt, event, &follow)
        case .cancelled:
            observe(job, attempt, event, &follow)
        default:
            break
        }
    }

    private func observe(_ job: Int64, _ attempt: Int64, _ event: JobEvent, _ follow: inout Follow) {
        guard let start = follow.started[job], start.attempt == attempt else { return }
        follow.started[job] = nil
        let seconds = max(event.at.timeIntervalSince(start.at), 0)
        registry.makeDurationHistogram(descriptor: Self.descriptor("lifeline_job_duration_seconds"), labels: [("kind", start.kind)], buckets: Self.durationBuckets)
            .record(.nanoseconds(Int64(seconds * 1e9)))
    }

    private func gauge(_ series: Series) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: Self.descriptor(series.name), labels: series.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    private func counter(_ name: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: Self.descriptor(name))
    }

    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }
}
