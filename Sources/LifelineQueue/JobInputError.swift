/// Input a user gave that the queue refuses. The CLI prints it as one line and exits 64;
/// nothing is written.
public struct JobInputError: Error, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
