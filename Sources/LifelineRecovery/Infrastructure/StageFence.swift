import Foundation

/// The fence of a server's stages, a file holding the newest stage attempt that has acted on
/// the server, as its job and attempt numbers. An attempt whose lease ran out can still be
/// running (on a stalled host, or stuck in the kernel) after its job was taken back and the
/// server's next attempt or stage has started. From the moment the newer one enters, the
/// fence refuses the older one's acts, so two attempts never act on a server at once. Job
/// ids grow, and so do a job's attempts: a later stage or attempt always carries a larger
/// token. The file outlives its server, so a stale attempt cannot act on a deleted one.
struct StageFence {
    struct Token: Comparable, CustomStringConvertible {
        var job: Int64
        var attempt: Int

        static func < (a: Token, b: Token) -> Bool { (a.job, a.attempt) < (b.job, b.attempt) }

        var description: String { "job \(job) attempt \(attempt)" }
    }

    let file: URL
    let server: String
    let token: Token

    /// How long an entry waits for the step in hand of an older attempt. Past it the entry
    /// fails, and its job is retried, rather than wait for an attempt stuck in the kernel.
    static let patience: Duration = .seconds(10)

    /// Checks that no newer attempt has entered, records this one, and runs `act`, holding the
    /// fence alone throughout.
    func enter<T>(_ act: () throws -> T) throws -> T {
        try locked(exclusive: true) { descriptor in
            try admit(descriptor)
            let text = "\(token.job) \(token.attempt)\n"
            guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, text, text.utf8.count, 0) == text.utf8.count, fsync(descriptor) == 0 else {
                throw StageCheckFailure(message: "cannot record the stage attempt in \(file.path): \(String(cString: strerror(errno)))")
            }
            return try act()
        }
    }

    /// Runs `act` if no newer attempt has entered, holding the fence shared: each step of a
    /// long copy, so that a newer attempt's entry waits for the step in hand, and the steps
    /// after it are refused.
    func hold<T>(_ act: () throws -> T) throws -> T {
        try locked(exclusive: false) { descriptor in
            try admit(descriptor)
            return try act()
        }
    }

    private func admit(_ descriptor: Int32) throws {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        let fields = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let job = Int64(fields[0]), let attempt = Int(fields[1]) else { return }
        let recorded = Token(job: job, attempt: attempt)
        if token < recorded { throw FencedOff(server: server, newer: recorded, stale: token) }
    }

    private func locked<T>(exclusive: Bool, _ body: (Int32) throws -> T) throws -> T {
        try FileSystem.makeDirectory(file.deletingLastPathComponent())
        let descriptor = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StageCheckFailure(message: "cannot open \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let deadline = ContinuousClock.now + Self.patience
        while flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                throw StageCheckFailure(message: "the stage fence of server \(server) stayed held for \(Self.patience): another attempt does not finish its step")
            }
            usleep(2_000)
        }
        return try body(descriptor)
    }
}

/// An attempt refused by its server's fence: a newer one has acted on the server since.
struct FencedOff: Error, CustomStringConvertible {
    var server: String
    var newer: StageFence.Token
    var stale: StageFence.Token

    var description: String {
        "fenced off: \(newer) has acted on server \(server) since this attempt (\(stale)) began; it acts no more"
    }
}
