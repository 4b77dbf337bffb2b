import Foundation

/// libfaketime, to run a command on a host whose clock is wrong. Scripts/test.sh installs it;
/// tests that need it are skipped where it is missing.
public enum FakeTime {
    /// The library, where the system has one.
    public static let library: String? = {
        let roots = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []).sorted()
        return roots.map { "/usr/lib/\($0)/faketime/libfaketime.so.1" }.first { FileManager.default.fileExists(atPath: $0) }
    }()

    /// The environment that moves a command's wall clock by `offset` (libfaketime's form:
    /// `+10m`, `-1h`) and leaves its continuous clock alone, as on a host whose clock is off.
    /// `FAKETIME_SHARED` names segments that do not exist: with the ones libfaketime makes
    /// itself, the program saw no arguments at all.
    public static func environment(offset: String) throws -> [String: String] {
        try environment(["FAKETIME": offset])
    }

    /// As ``environment(offset:)``, with the offset read from `file` at every look at the
    /// clock: writing the file steps the clocks of every command started so.
    public static func environment(offsetFile file: String) throws -> [String: String] {
        try environment(["FAKETIME_TIMESTAMP_FILE": file, "FAKETIME_NO_CACHE": "1"])
    }

    /// libfaketime preloaded as it comes, its clock not moved: with its own shared segments.
    public static func plainEnvironment() throws -> [String: String] {
        guard let library else { throw Unavailable() }
        removeSegmentsOfDeadProcesses()
        return ["LD_PRELOAD": library, "FAKETIME": "+0"]
    }

    private static func environment(_ clock: [String: String]) throws -> [String: String] {
        guard let library else { throw Unavailable() }
        removeSegmentsOfDeadProcesses()
        return clock.merging(["LD_PRELOAD": library, "DONT_FAKE_MONOTONIC": "1", "FAKETIME_SHARED": "/nosem /noshm"]) { $1 }
    }

    /// libfaketime names the segments it makes for itself by its pid and removes them at exit, so
    /// a killed command leaves them behind. A later command given that pid again finds them, cannot
    /// make its own, and exits 1 before it runs ("sem_open failed and recreation attempts failed").
    private static func removeSegmentsOfDeadProcesses() {
        let directory = "/dev/shm"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let pid = ["faketime_shm_", "sem.faketime_sem_"].lazy.compactMap({ prefix in
                name.hasPrefix(prefix) ? pid_t(name.dropFirst(prefix.count)) : nil
            }).first else { continue }
            // Only this user's: those of other users' processes are theirs to clear.
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, info.st_uid == geteuid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(directory + "/" + name)
            }
        }
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "libfaketime is not installed" }
    }
}
