import Foundation
import Logging

/// Worker logs: one line per event on stderr, with the job's metadata; the level comes from
/// LIFELINE_LOG_LEVEL (trace, debug, info, notice, warning, error; default info).
enum WorkerLogging {
    @Sendable static func handler(label: String) -> any LogHandler {
        var handler = StreamLogHandler.standardError(label: label)
        let level = Environment.value("LIFELINE_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:))
        handler.logLevel = level ?? .info
        return handler
    }
}
