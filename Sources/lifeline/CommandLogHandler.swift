import Logging

/// The log of a command that is not a worker or a server (`events --follow`'s change feed, which
/// reconnects on its own), said as the command's other messages are: `lifeline: MESSAGE (KEY:
/// VALUE, …)` on stderr, warnings and worse only.
struct CommandLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    static var logger: Logger {
        Logger(label: "lifeline") { _ in CommandLogHandler() }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }
        let details = fields.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        Output.standardError.writeLine("lifeline: " + TerminalText.escaped("\(event.message)" + (details.isEmpty ? "" : " (\(details))")))
    }
}
