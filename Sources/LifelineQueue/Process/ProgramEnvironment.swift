import CLifelineSystem
import Foundation
import Synchronization

/// The environment of the programs jobs run (`exec`, a stage's commands): the worker's own,
/// without the queue's credentials or the API's token. A program could otherwise store them
/// where anyone who reads the queue sees them: `exec ["env"]` puts its output in the job's result.
public enum ProgramEnvironment {
    private static let withheld = Mutex<Set<String>>(["LIFELINE_DATABASE_URL", "LIFELINE_RUNNER_DATABASE", "LIFELINE_TOKEN"])

    /// Withholds `name` too: `PGPASSWORD`, once a process knows its queue is on PostgreSQL.
    /// Left alone otherwise, for the programs of a queue on SQLite that use it themselves.
    public static func withhold(_ name: String) {
        withheld.withLock { _ = $0.insert(name) }
    }

    /// Makes what this process creates owner-only, while the programs it starts create files
    /// as the user who started it would (a backup's copies readable as the user's `cp` makes them).
    public static func makeFilesPrivate() {
        lifeline_make_files_private()
    }

    /// This process's environment, less what is withheld.
    public static var inherited: [String: String] {
        let names = withheld.withLock { $0 }
        return ProcessInfo.processInfo.environment.filter { !names.contains($0.key) }
    }
}
