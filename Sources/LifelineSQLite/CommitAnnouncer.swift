import Foundation
import LifelineQueue
import Synchronization

/// Tells the processes watching a database file that this process committed to it
/// (``DatabaseChangeWatcher/announceCommit(databasePath:)``), at most once per ``window``.
/// A commit after a quiet spell is announced at once, so a lone enqueue wakes an idle worker
/// without delay; the commits that follow within the window are announced together at its
/// end. A busy worker commits about a thousand transactions a second: announcing each one
/// touched the WAL file's inode and woke every watcher, its own included, each time, and
/// cost a draining worker about a tenth of its rate.
///
/// One per database file in a process. What is still to be announced when the process exits
/// is announced then; a process killed within a window leaves it to the next commit.
final class CommitAnnouncer: Sendable {
    static let window: Duration = .milliseconds(10)

    private struct State {
        var lastAnnounced: ContinuousClock.Instant?
        /// An announcement is planned for the end of the window.
        var pending = false
    }

    private let databasePath: String
    private let state = Mutex(State())

    private init(databasePath: String) {
        self.databasePath = databasePath
    }

    private static let announcers = Mutex<[String: CommitAnnouncer]>([:])

    /// The process's announcer for `databasePath`.
    static func shared(for databasePath: String) -> CommitAnnouncer {
        announcers.withLock { announcers in
            if let announcer = announcers[databasePath] { return announcer }
            if announcers.isEmpty { atexit { CommitAnnouncer.announceAllPending() } }
            let announcer = CommitAnnouncer(databasePath: databasePath)
            announcers[databasePath] = announcer
            return announcer
        }
    }

    /// A transaction that changed rows has committed.
    func committed() {
        let now = ContinuousClock.now
        // How long until this commit is announced; nil: one already planned comes after it.
        let delay: Duration? = state.withLock { state in
            if state.pending { return nil }
            if let last = state.lastAnnounced, now - last < Self.window {
                state.pending = true
                return last + Self.window - now
            }
            state.lastAnnounced = now
            return .zero
        }
        guard let delay else { return }
        if delay == .zero {
            DatabaseChangeWatcher.announceCommit(databasePath: databasePath)
        } else {
            // Early by under a millisecond at most: it then covers every commit made so far.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(delay.milliseconds))) { [self] in
                announcePending()
            }
        }
    }

    /// Announces what waits for the end of its window, if anything does.
    func announcePending() {
        let due = state.withLock { state in
            guard state.pending else { return false }
            state.pending = false
            state.lastAnnounced = .now
            return true
        }
        if due { DatabaseChangeWatcher.announceCommit(databasePath: databasePath) }
    }

    private static func announceAllPending() {
        for announcer in announcers.withLock({ Array($0.values) }) { announcer.announcePending() }
    }
}
