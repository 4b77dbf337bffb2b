import Foundation

/// One environment variable, read with getenv: `ProcessInfo.environment` copies every
/// variable into a dictionary on each call, a cost every command paid several times at start.
enum Environment {
    /// The variable's value; nil when it is unset or empty.
    static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        let value = String(cString: pointer)
        return value.isEmpty ? nil : value
    }

    /// `LIFELINE_DATABASE_URL` as the process was started with it, password and all: read once,
    /// before ``ArgumentSecrets/hideDatabaseURL()`` overwrites the password where `getenv` reads it.
    static let databaseURL = value("LIFELINE_DATABASE_URL")
}
