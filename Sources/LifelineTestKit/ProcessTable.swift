import Foundation

/// What /proc says about running processes, for tests that check nothing is left behind.
public enum ProcessTable {
    /// Pids of live (not zombie) processes whose command line contains `fragment`.
    public static func pids(commandLineContaining fragment: String) -> [Int32] {
        allPids().filter { pid in
            guard !isZombie(pid), let arguments = commandLine(of: pid) else { return false }
            return arguments.joined(separator: " ").contains(fragment)
        }
    }

    /// The listed processes (command line containing `fragment`) whose children are listed
    /// too: shells started as `sh -c "sleep M & wait"`, whose command lines hold their child's.
    public static func parentsListed(commandLineContaining fragment: String) -> Set<Int32> {
        let listed = pids(commandLineContaining: fragment)
        return Set(listed.compactMap { parent(of: $0) }.filter { listed.contains($0) })
    }

    /// Pids of the live children of `parent`.
    public static func children(of parent: Int32) -> [Int32] {
        allPids().filter { pid in
            guard let fields = stat(pid) else { return false }
            return fields.count > 2 && fields[1] != "Z" && Int32(fields[2]) == parent
        }
    }

    /// The process's parent, while it lives.
    public static func parent(of pid: Int32) -> Int32? {
        stat(pid).flatMap { $0.count > 2 ? Int32($0[2]) : nil }
    }

    /// The process's state letter (R, S, T for stopped, Z, …), or nil when there is none.
    public static func state(_ pid: Int32) -> String? {
        stat(pid).flatMap { $0.count > 1 ? $0[1] : nil }
    }

    /// Whether every thread of the process is stopped (a SIGSTOP has taken effect in each).
    public static func isStopped(_ pid: Int32) -> Bool {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return !threads.isEmpty && threads.allSatisfy { stat(path: "/proc/\(pid)/task/\($0)/stat").map { $0.count > 1 && $0[1] == "T" } ?? false }
    }

    /// The process's name as ps -e and top show it (/proc/PID/comm), while it lives.
    public static func name(of pid: Int32) -> String? {
        FileManager.default.contents(atPath: "/proc/\(pid)/comm").map { String(decoding: $0.dropLast(), as: UTF8.self) }
    }

    /// The process's command line as ps -f and pgrep -f read it (/proc/PID/cmdline), one string
    /// an argument, while it lives.
    public static func commandLine(of pid: Int32) -> [String]? {
        FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } }
    }

    private static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
    }

    private static func isZombie(_ pid: Int32) -> Bool {
        stat(pid).map { $0.count > 1 && $0[1] == "Z" } ?? true
    }

    /// The fields of /proc/PID/stat after the command name: state, ppid, ….
    private static func stat(_ pid: Int32) -> [String]? {
        stat(path: "/proc/\(pid)/stat")
    }

    private static func stat(path: String) -> [String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return ["comm"] + text[text.index(after: close)...].split(separator: " ").map(String.init)
    }
}
