import Foundation

/// Named places in the write paths where a test can make the process die on the spot, as a
/// power cut or SIGKILL would: `LIFELINE_CRASH_AT=finish.before-commit`. Unset, a crash
/// point costs one comparison.
public enum CrashPoint {
    /// Read with getenv: `ProcessInfo.environment` copies every variable into a dictionary,
    /// which a command that reads nothing else from it would pay for at start.
    private static let armed = getenv("LIFELINE_CRASH_AT").map { String(cString: $0) }

    /// Exits the process at once (status 70) if `name` is the armed crash point.
    @inline(__always)
    public static func check(_ name: StaticString) {
        guard let armed, armed == name.description else { return }
        FileHandle.standardError.write(Data("lifeline: crash point \(armed) reached\n".utf8))
        _exit(70)
    }
}
