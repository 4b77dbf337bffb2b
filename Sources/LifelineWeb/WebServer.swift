import Foundation
import Hummingbird
import NIOCore
import Logging

/// Runs the API on `host:port` until cancelled; `onListening` gets the port it listens on
/// (the one the system chose, for port 0).
public enum WebServer {
    static let idleTimeout: TimeAmount = .seconds(30)

    public static func run(api: WebAPI, host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (Int) -> Void) async throws {
        // A store that does not answer yet (PostgreSQL down as serve starts) is served all the
        // same: /healthz says so, and the tail finds the end once it answers.
        do {
            try await api.tail.findEnd()
        } catch {
            logger.warning("cannot read the event log yet: \(api.describeStoreFailure(error) ?? "\(error)"); the counters start once it answers")
        }
        let app = Application(
            router: api.router(),
            // A connection that sends nothing for this long is closed: one left half-sent must not
            // be held open for ever. A response being written (the event stream) is not idle.
            server: .http1(configuration: .init(idleTimeout: idleTimeout)),
            configuration: .init(address: .hostname(host, port: port), serverName: "lifeline"),
            services: [api.tail],
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
        // Stops like a worker: SIGTERM, SIGINT or SIGHUP end it gracefully.
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint, .sighup])
        } catch let error as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(error.errnoCode) {
            throw ListenError(address: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)", errno: error.errnoCode)
        }
    }
}

/// The address could not be listened on (taken, not this machine's, or a privileged port).
public struct ListenError: Error, CustomStringConvertible {
    let address: String
    let errno: Int32

    public var description: String {
        let reason = String(cString: strerror(errno)).lowercased()
        let hint = errno == EADDRINUSE ? "; another process listens there: choose another --port" : ""
        return "cannot listen on \(address): \(reason)\(hint)"
    }
}
