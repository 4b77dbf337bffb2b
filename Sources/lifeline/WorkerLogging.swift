import Foundation
import Logging

/// Worker logs: one line per event on stderr, with the job's metadata; the level comes from
/// LIFELINE_LOG_LEVEL (trace, debug, info, notice, warning, error, critical; default info).
enum WorkerLogging {
    /// Sends this process's logs to stderr at the level asked for; a level that names none is
    /// refused, rather than left to log at another.
    static func bootstrap() throws {
        var level = Logger.Level.info
        if let text = Environment.value("LIFELINE_LOG_LEVEL") {
            // Written as people and other tools write them: INFO, Debug, warn.
            let word = text.lowercased()
            guard let named = Logger.Level(rawValue: word == "warn" ? "warning" : word) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw CLIFailure(.invalidInput, "LIFELINE_LOG_LEVEL: invalid level '\(text)'; use one of \(levels)")
            }
            level = named
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
