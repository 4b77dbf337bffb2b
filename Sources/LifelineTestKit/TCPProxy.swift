import Foundation

/// `Scripts/lib/tcp_proxy.py` in front of a database: paused, it cuts off whoever connects
/// through it.
public struct TCPProxy {
    let process: BackgroundCommand
    /// The database's URL, through the proxy.
    public let url: String

    public init(to databaseURL: String) async throws {
        guard let target = URLComponents(string: databaseURL) else { throw SpawnError(program: "tcp_proxy.py", code: EINVAL) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/lib/tcp_proxy.py")
        process = try BackgroundCommand(
            "/usr/bin/env", ["python3", script.path, target.host ?? "127.0.0.1", "\(target.port ?? 5432)"],
            environment: ProcessInfo.processInfo.environment
        )
        let number = try await process.nextLine()
        url = databaseURL.replacingOccurrences(of: ":\(target.port ?? 5432)/", with: ":\(number)/")
    }

    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }
    public func stop() { process.signal(SIGKILL) }
}
