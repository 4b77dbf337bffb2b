import Foundation
import LifelineQueue
import LifelineRecovery

/// Waits for a server to reach a state, drawing its progress on a terminal's stderr.
struct ServerWaiter {
    let servers: any ServerStore
    let timeout: Duration?
    private let bar = ProgressBar(output: .standardError)

    init(servers: any ServerStore, timeout: Duration?) {
        self.servers = servers
        self.timeout = timeout
    }

    /// Returns the server once it rests, or nil once it is gone.
    func waitUntilResting(_ name: String) async throws -> ServerInfo? {
        try await wait(name) { $0?.state.isResting ?? true }
    }

    func wait(_ name: String, until done: (ServerInfo?) -> Bool) async throws -> ServerInfo? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        defer { bar.finish() }
        while true {
            let server = try await servers.serverGet(name)
            if done(server) { return server }
            if let server { bar.draw(server) }
            if let deadline, ContinuousClock.now >= deadline {
                throw CLIFailure(.runtime, "timed out: \(name) is still \(server?.state.rawValue ?? "gone")")
            }
            // Servers move in steps of seconds; a fifth of a second keeps the bar live.
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// One line redrawn in place: the server's state, stage and a bar of its progress, with
/// throughput and time left. Nothing is drawn when the output is not a terminal.
final class ProgressBar: @unchecked Sendable {
    private let output: Output
    private var samples: [(ContinuousClock.Instant, Int64)] = []
    private var drawn = false

    init(output: Output) {
        self.output = output
    }

    func draw(_ server: ServerInfo) {
        guard output.isTerminal else { return }
        let width = output.width ?? 80
        output.write("\r\u{1B}[K" + Table.cut(line(server), to: width - 1))
        drawn = true
    }

    func finish() {
        if drawn { output.write("\r\u{1B}[K") }
    }

    private func line(_ server: ServerInfo) -> String {
        var text = "\(server.name): \(server.state.rawValue)"
        if let stage = server.lifecycle.currentStage { text += " · \(stage.rawValue)" }
        if server.currentJobState == .retryable { text += " (retrying)" }
        guard let progress = server.stageProgress else { return text }
        text += " " + ProgressText.bar(done: progress.done, total: progress.total, width: 24)
        samples.append((.now, progress.done))
        samples = samples.filter { ContinuousClock.now - $0.0 < .seconds(5) }
        if let first = samples.first, let rate = ProgressText.rate(from: first, to: (.now, progress.done)), rate > 0 {
            let left = DurationText.format(.seconds(Int64(Double(progress.total - progress.done) / rate)))
            text += " \(ProgressText.bytes(Int64(rate)))/s ETA \(left)"
        }
        return text
    }
}

/// Texts for progress: bars, byte counts, rates.
enum ProgressText {
    static func bar(done: Int64, total: Int64, width: Int) -> String {
        let fraction = min(max(Double(done) / Double(max(total, 1)), 0), 1)
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "]"
            + String(format: " %3d%%", Int(fraction * 100))
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func rate(from start: (ContinuousClock.Instant, Int64), to end: (ContinuousClock.Instant, Int64)) -> Double? {
        let seconds = Double((end.0 - start.0).milliseconds) / 1000
        guard seconds > 0.5 else { return nil }
        return Double(end.1 - start.1) / seconds
    }
}
