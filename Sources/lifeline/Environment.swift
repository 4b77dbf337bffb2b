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
}
