import Foundation

/// The few file operations the simulated infrastructure needs, each owner-only and each
/// replacing files whole (write aside, then rename) so a crash never leaves half a file.
enum FileSystem {
    /// `error` naming `url`, when it is the system's word on a file operation (an errno) that
    /// names no file, as FileHandle's write and sync throw it: recorded as "PATH: no space left
    /// on device", not as Foundation's error dump.
    static func naming(_ error: any Error, _ url: URL) -> any Error {
        let system = error as NSError
        guard system.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(system.code)) else { return error }
        return CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path, NSUnderlyingErrorKey: POSIXError(code)])
    }

    static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    static func size(_ url: URL) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// The bytes an unprivileged writer may still write on the file system `url` is (or would
    /// be made) on; nil when that cannot be told.
    static func freeBytes(near url: URL) -> Int64? {
        var place = url
        while !exists(place), place.path != "/" { place = place.deletingLastPathComponent() }
        var stats = statvfs()
        guard statvfs(place.path, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }

    static func makeDirectory(_ url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Opens `url` to write, made owner-only if missing, never through a link at its name: a
    /// link there names another file, perhaps another user's.
    static func openForWriting(_ url: URL, truncating: Bool = false) throws -> FileHandle {
        try makeDirectory(url.deletingLastPathComponent())
        let fd = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (truncating ? O_TRUNC : 0), 0o600)
        guard fd >= 0 else { throw naming(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO), url) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Writes the whole file atomically and durably: its data, then its name, which lives in
    /// its directory. A write that fails before the rename leaves the file as it was, and no
    /// staging file; one whose directory's sync fails after it has replaced the file, and is
    /// uncertain only to survive a power loss. A file system that cannot sync a directory
    /// (EINVAL) keeps names as it keeps them.
    static func write(_ data: Data, to url: URL) throws {
        let staging = url.appendingPathExtension("tmp")
        do {
            let handle = try openForWriting(staging, truncating: true)
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(staging.path, url.path) == 0 else { throw naming(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO), url) }
        } catch {
            unlink(staging.path)
            throw error
        }
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        guard directory >= 0, fsync(directory) == 0 || errno == EINVAL else { throw naming(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO), url) }
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try write(encoder.encode(value), to: url)
    }

    static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) -> T? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    /// Fills `buffer` from the file's offset, or as much of it as the file has left, in as few
    /// calls as the kernel allows; the count read, 0 at its end. FileHandle's
    /// `read(upToCount:)` reads 4 KiB a call on Linux: a copy of 256 MiB made 65,536 of them
    /// (strace), and ran at half the rate of `cp` and a sync.
    static func read(_ handle: FileHandle, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = Glibc.read(handle.fileDescriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if got > 0 {
                filled += got
            } else if got == 0 {
                break
            } else if errno != EINTR {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
        return filled
    }

    static func readCheckpoint(_ url: URL) -> Int64 {
        FileManager.default.contents(atPath: url.path).flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
    }

    static func writeCheckpoint(_ url: URL, _ offset: Int64) throws {
        try write(Data(String(offset).utf8), to: url)
    }

    static func remove(_ url: URL) throws {
        guard exists(url) else { return }
        try FileManager.default.removeItem(at: url)
    }
}
