import Foundation
import LifelineQueue
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
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, logLevel: level) }
    }
}

/// One line per event on stderr: `TIME LEVEL LABEL: MESSAGE key=value …`, the message before
/// its details, and no source module (a library's name tells an operator nothing). Control
/// characters are escaped: a program's error output in an error's value neither breaks the
/// line (nor forges the next one) nor acts on the operator's terminal.
private struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }.map { TerminalText.escaped("\($0.key)=\($0.value)") }
        let line = [LifelineJSON.formatTime(Date()), event.level.rawValue, "\(label):", TerminalText.escaped("\(event.message)")] + fields
        Output.standardError.writeLine(line.joined(separator: " "))
    }
}
