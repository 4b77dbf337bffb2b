import Foundation

/// Keeps the password of a database URL given on the command line (`--db
/// postgres://USER:PASSWORD@HOST/DB`) out of `ps` and `/proc/PID/cmdline`, which every user of
/// the host can read: once Swift has copied the arguments, the process's own arguments are
/// overwritten in place. A password is still readable there between the process's start and
/// this call; `PGPASSWORD` keeps it off the command line altogether.
enum ArgumentSecrets {
    /// Overwrites with `x` every URL password in this process's arguments. Call it after the
    /// first read of `CommandLine.arguments`, which keeps the copy the commands parse.
    static func hide() {
        // A program may be started with no arguments at all, not even its name.
        for index in 1..<max(Int(CommandLine.argc), 1) {
            if let argument = CommandLine.unsafeArgv[index] { overwritePassword(in: argument) }
        }
    }

    /// Overwrites with `x` the password of `LIFELINE_DATABASE_URL` in this process's
    /// environment, which root's `ps e` shows for as long as it runs, once its value is kept
    /// (``Environment/databaseURL``).
    static func hideDatabaseURL() {
        _ = Environment.databaseURL
        hide(inEnvironment: "LIFELINE_DATABASE_URL")
    }

    /// Overwrites with `x` the password of a URL in the environment variable `name`, where the
    /// process's start put it: `/proc/PID/environ` (and `ps e`) shows that block for as long as
    /// the process runs, whatever `unsetenv` does. Call it once the value has been read.
    static func hide(inEnvironment name: String) {
        if let value = getenv(name) { overwritePassword(in: value) }
    }

    /// Overwrites with `x` the password of the URL in the C string `text`, in place.
    private static func overwritePassword(in text: UnsafeMutablePointer<CChar>) {
        let bytes = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text))
        guard let password = passwordRange(in: bytes) else { return }
        for offset in password { bytes[offset] = UInt8(ascii: "x") }
    }

    /// Where the password of the URL in `bytes` lies: after `SCHEME://USER:` and before the `@`
    /// that ends the URL's authority. Nil when the argument holds no URL with a password.
    static func passwordRange<Bytes: RandomAccessCollection<UInt8>>(in text: Bytes) -> Range<Int>? where Bytes.Index == Int {
        let colon = UInt8(ascii: ":"), slash = UInt8(ascii: "/")
        guard let schemeEnd = text.indices.dropLast(2).first(where: { text[$0] == colon && text[$0 + 1] == slash && text[$0 + 2] == slash })
        else { return nil }
        let authorityStart = schemeEnd + 3
        // The authority ends at the first of / ? #, or with the argument.
        let authorityEnd = text[authorityStart...].firstIndex { $0 == slash || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
            ?? text.endIndex
        guard let at = text[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")),
            let userEnd = text[authorityStart..<at].firstIndex(of: colon), userEnd + 1 < at
        else { return nil }
        return userEnd + 1..<at
    }
}
