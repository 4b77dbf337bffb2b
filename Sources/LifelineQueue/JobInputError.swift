/// Input a user gave that the queue refuses. The CLI prints it as one line and exits 64;
/// nothing is written.
public struct JobInputError: Error, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension JobInputError {
    /// A refused value as its message quotes it: its start, cut after 80 characters, so a
    /// value of megabytes makes a line of a hundred characters, not one of megabytes. (The
    /// CLI escapes control characters when it prints.)
    public static func quoted(_ value: String) -> String {
        value.count > 80 ? value.prefix(80) + "…" : value
    }
}
