import Foundation

/// `Scripts/lib/tcp_proxy.py` in front of a database: paused, it cuts off whoever connects
/// through it.
public struct TCPProxy {
    let process: BackgroundCommand
    /// The database's URL, through the proxy.
    public let url: String

    /// A proxy to `databaseURL`; given `holdingAfter`, it forwards no more than about that
    /// many bytes from its clients (see ``held(timeout:)``).
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

    /// Waits until a client has sent all the proxy forwards and waits to send more: caught
    /// mid-way, it can neither end nor commit while held.
    public func held(timeout: Duration = .seconds(60)) async throws {
        try await waitUntil("the proxy to hold a client", timeout: timeout) { process.lines.contains("held") }
    }

    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }
    public func stop() { process.signal(SIGKILL) }
}
