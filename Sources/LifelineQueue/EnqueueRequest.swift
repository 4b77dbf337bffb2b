import Foundation

/// A request to enqueue, as a user states it: every field but the kind is optional and
/// falls back to the kind's defaults. ``JobRegistry/prepare(_:)`` checks it and turns it into
/// a ``NewJob``.
public struct EnqueueRequest: Sendable, Hashable {
    public var kind: String
    public var args: JSONValue
    public var queue: String?
    public var priority: Int?
    public var maxAttempts: Int?
    public var timeout: Duration?
    public var backoff: Duration?
    public var runAt: Date?
    /// How long after the store takes it the job may first run (with no `runAt`).
    public var delay: Duration?
    public var idempotencyKey: String?
    public var server: String?

    public init(
        kind: String, args: JSONValue = .object([:]), queue: String? = nil, priority: Int? = nil,
        maxAttempts: Int? = nil, timeout: Duration? = nil, backoff: Duration? = nil, runAt: Date? = nil, delay: Duration? = nil,
        idempotencyKey: String? = nil, server: String? = nil
    ) {
        self.kind = kind
        self.args = args
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.backoff = backoff
        self.runAt = runAt
        self.delay = delay
        self.idempotencyKey = idempotencyKey
        self.server = server
    }
}

/// The bounds every enqueue is checked against.
public enum JobLimits {
    public static let priorities = 0...9
    public static let maxAttempts = 1...1_000_000
    /// The most attempts `jobs retry` lets a job have: each retry adds as many as it had, and
    /// attempts count on, so that a later attempt always has a larger number.
    public static let retriedMaxAttempts = Int(Int32.max)
    public static let timeout = Duration.milliseconds(1)...Duration.seconds(7 * 24 * 3600)
    public static let backoff = Duration.zero...Duration.seconds(24 * 3600)
    public static let idempotencyKeyLength = 1...255
    public static let argsBytes = 1 << 20
    /// How deep args may nest: what prints a job puts a few levels around them, and JSON is
    /// written no deeper than 512 (JSONEncoder's limit).
    public static let argsDepth = 256

    /// Checks the settings a job is given against their bounds; a batch's command line is
    /// checked so before its lines, which inherit its settings, so that a bad one is the flag's.
    public static func checkSettings(priority: Int?, maxAttempts: Int?, timeout: Duration?, backoff: Duration?) throws(JobInputError) {
        if let priority, !priorities.contains(priority) {
            throw JobInputError("priority \(priority) is out of range: use \(priorities.lowerBound) to \(priorities.upperBound) (0 runs first)")
        }
        if let maxAttempts, !Self.maxAttempts.contains(maxAttempts) {
            throw JobInputError("max attempts \(maxAttempts) is out of range: use \(Self.maxAttempts.lowerBound) to \(Self.maxAttempts.upperBound)")
        }
        if let timeout, !Self.timeout.contains(timeout) {
            throw JobInputError("timeout \(DurationText.format(timeout)) is out of range: use 1ms to 7d")
        }
        if let backoff, !Self.backoff.contains(backoff) {
            throw JobInputError("backoff \(DurationText.format(backoff)) is out of range: use 0s to 1d")
        }
    }

    /// Queue names appear in tables and flags: letters, digits, `_`, `-`, `.`; 1 to 64. A `new`
    /// one (enqueued into, or created) may not start with `-`, which every command that names a
    /// queue would read as an option, nor be `.` or `..`; one made so before is still named.
    public static func checkQueueName(_ name: String, new: Bool = false) throws(JobInputError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
        guard (1...64).contains(name.utf8.count), allowed else {
            throw JobInputError("invalid queue name '\(JobInputError.quoted(name))': use 1 to 64 letters, digits, '_', '-' or '.'")
        }
        guard !new || name.utf8.first != 0x2D else {
            throw JobInputError("invalid queue name '\(JobInputError.quoted(name))': it must not start with '-', which commands read as an option")
        }
        // A URL's path reads them as "this" and "up one": the API, and the dashboard's buttons,
        // could never name such a queue.
        guard !new || (name != "." && name != "..") else {
            throw JobInputError("invalid queue name '\(JobInputError.quoted(name))': '.' and '..' name no queue in a URL; choose another")
        }
    }

    /// A key is typed, and shown in tables and errors: 1 to 255 bytes, no control characters.
    public static func checkIdempotencyKey(_ key: String) throws(JobInputError) {
        guard idempotencyKeyLength.contains(key.utf8.count), !containsControlCharacter(key) else {
            throw JobInputError("idempotency key must be 1 to 255 bytes without control characters")
        }
    }

    /// Whether `text` holds a control character (NUL included), which no name or key may.
    public static func containsControlCharacter(_ text: String) -> Bool {
        // The control characters (Unicode's Cc) are exactly these two ranges; asking each
        // scalar for its properties cost more than a job's insert.
        text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }
}
