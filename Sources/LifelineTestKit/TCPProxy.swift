import Foundation

/// `Scripts/lib/tcp_proxy.py` in front of a database: paused, it cuts off whoever connects
/// through it.
public struct TCPProxy {
    let process: BackgroundCommand
    /// The database's URL, through the proxy.
    public let url: String

    /// A proxy to `databaseURL`; given `holdingAfter`, it forwards no more than that many
    /// bytes from its clients (see ``isHolding``).
    public init(to databaseURL: String, holdingAfter bytes: Int? = nil) async throws {
        guard let target = URLComponents(string: databaseURL) else { throw SpawnError(program: "tcp_proxy.py", code: EINVAL) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/lib/tcp_proxy.py")
        process = try BackgroundCommand(
            "/usr/bin/env", ["python3", script.path, target.host ?? "127.0.0.1", "\(target.port ?? 5432)"] + (bytes.map { ["\($0)"] } ?? []),
            environment: ProcessInfo.processInfo.environment
        )
        let number = try await process.nextLine()
        url = databaseURL.replacingOccurrences(of: ":\(target.port ?? 5432)/", with: ":\(number)/")
    }

    /// Whether the proxy has withheld something a client sent: from then on nothing that
    /// client sends reaches the database, so it can neither end nor commit.
    public var isHolding: Bool { process.lines.contains("held") }

    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }
    /// Every connection open now forwards nothing more, and is not closed; new ones work.
    public func silenceOpenConnections() { process.signal(SIGUSR1) }
    public func stop() { process.signal(SIGKILL) }
}
