import Foundation
import LifelineQueue
import LifelineRecovery
import Synchronization

/// One line redrawn in place: the server's state, stage and a bar of its progress, with
/// throughput and time left. Off a terminal (a pipe, a log), the same line is written as a
/// line of its own when the state or the stage changes, and every 10 s while a stage reports
/// progress, so a script's log shows a long wait going on. Drawn by the wait, and cleared by
/// an interrupt's handler on another thread.
final class ProgressBar: Sendable {
    private struct State {
        var isDrawn = false
        /// Cleared for good: the command ends with a line of its own after it.
        var closed = false
        /// Off a terminal: the state and stage last written, and when.
        var written: String?
        var writtenAt: ContinuousClock.Instant?
        /// The stage job seen waiting for a worker, and since when.
        var waiting: (job: Int64?, since: ContinuousClock.Instant)?
    }

    /// How often progress is written off a terminal while the state and stage stay the same.
    private static let writeInterval: Duration = .seconds(10)
    /// A running worker takes a stage's job within milliseconds: only one that waits longer is
    /// said to wait for a worker.
    private static let patience: Duration = .seconds(2)

    private let output: Output
    private let state = Mutex(State())

    init(output: Output) {
        self.output = output
    }

    var isDrawn: Bool { state.withLock { $0.isDrawn } }

    /// `held`: why the stage's queue holds its job back, if it does (``QueueHold``).
    func draw(_ server: ServerInfo, held: String? = nil) {
        guard output.isTerminal else { return write(server, held: held) }
        let width = (output.width ?? 80) - 1
        state.withLock { state in
            guard !state.closed else { return }
            let standing = Self.standing(server, held: held, waiting: &state.waiting)
            output.write("\r\u{1B}[K" + Table.cut(Self.line(server, standing: standing, width: width), to: width))
            state.isDrawn = true
        }
    }

    /// Off a terminal: the line, when the state, the stage or whether its job waits changed,
    /// or progress is due. Every read adds to the rate, written or not.
    private func write(_ server: ServerInfo, held: String?) {
        state.withLock { state in
            let standing = Self.standing(server, held: held, waiting: &state.waiting)
            let line = Self.line(server, standing: standing, width: 79)
            let step = "\(server.state.rawValue) \(server.lifecycle.currentStage?.rawValue ?? "") \(standing ?? "")"
            let now = ContinuousClock.now
            let due = server.stageProgress != nil && state.writtenAt.map { now - $0 >= Self.writeInterval } ?? true
            guard !state.closed, step != state.written || due else { return }
            state.written = step
            state.writtenAt = now
            output.writeLine(line)
        }
    }

    /// Why the stage's job is not under way, if it is not: held by its queue, or waiting for a
    /// worker, once it has waited ``patience``.
    private static func standing(_ server: ServerInfo, held: String?, waiting: inout (job: Int64?, since: ContinuousClock.Instant)?) -> String? {
        guard server.currentJobState == .available else {
            waiting = nil
            return server.currentJobState == .retryable ? "retrying" : nil
        }
        let now = ContinuousClock.now
        if waiting == nil || waiting?.job != server.lifecycle.currentJob { waiting = (server.lifecycle.currentJob, now) }
        return now - (waiting?.since ?? now) >= patience ? held ?? "waiting for a worker" : nil
    }

    /// Clears the line; the next draw draws it again.
    func finish() {
        state.withLock { state in
            if state.isDrawn { output.write("\r\u{1B}[K") }
            state.isDrawn = false
        }
    }

    /// Clears the line for good, for an interrupt's last line: a draw still under way in the
    /// wait draws nothing after it.
    func close() {
        state.withLock { $0.closed = true }
        finish()
    }

    /// The line, its bar as wide as `width` leaves room for (so the time left is not cut off).
    private static func line(_ server: ServerInfo, standing: String?, width: Int) -> String {
        var text = "\(server.name): \(server.state.rawValue)"
        if let stage = server.lifecycle.currentStage { text += " · \(stage.rawValue)" }
        if let standing { text += " (\(standing))" }
        guard let progress = server.stageProgress else { return text }
        let speed = ProgressText.speed(progress)
        // The bar takes 7 columns besides its width: brackets, a space, the percentage.
        let barWidth = min(max(width - text.count - speed.count - 8, 8), 24)
        return text + " " + ProgressText.bar(done: progress.done, total: progress.total, width: barWidth) + speed
    }
}

/// Texts for progress: bars and rates.
enum ProgressText {
    static func bar(done: Int64, total: Int64, width: Int) -> String {
        let fraction = fraction(done: done, total: total)
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "]"
            + String(format: " %3d%%", Int(fraction * 100))
    }

    /// How much of `total` is done, from 0 to 1 whatever a stage program reported.
    static func fraction(done: Int64, total: Int64) -> Double {
        min(max(Double(done) / Double(max(total, 1)), 0), 1)
    }

    /// The rate its worker measured and the time left at it, as ` 4.0 MiB/s ETA 16s`: empty
    /// until the worker has measured one.
    static func speed(_ progress: StageProgress) -> String {
        guard let rate = progress.rate, let left = progress.secondsLeft else { return "" }
        return " \(SizeText.readable(rate))/s ETA \(DurationText.format(.seconds(left)))"
    }
}
