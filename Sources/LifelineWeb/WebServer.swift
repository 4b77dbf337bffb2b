import Hummingbird
import Logging

/// Runs the API on `host:port` until cancelled; `onListening` gets the port it listens on
/// (the one the system chose, for port 0).
public enum WebServer {
    public static func run(api: WebAPI, host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (Int) -> Void) async throws {
        try await api.tail.findEnd()
        let app = Application(
            router: api.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "lifeline"),
            services: [api.tail],
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
        // Stops like a worker: SIGTERM, SIGINT or SIGHUP end it gracefully.
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint, .sighup])
    }
}
