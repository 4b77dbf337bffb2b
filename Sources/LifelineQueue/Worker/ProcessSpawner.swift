import CLifelineSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Starting and reaping child processes without a shell.
public enum ProcessSpawner {
    /// How a child process ended.
    public enum Termination: Sendable, Hashable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Starts `argv` in a process group of its own; it receives `deathSignal` if this process
    /// dies.
    public static func spawn(
        argv: [String], environment: [String: String], directory: String?, stdinFD: Int32 = -1, stdoutFD: Int32,
        stderrFD: Int32, deathSignal: Int32
    ) async throws -> pid_t {
        // The parent-death signal fires when the spawning *thread* ends, and pool threads come
        // and go: every child is forked from one thread that lives as long as the process.
        try await SpawnThread.shared.run {
            try spawnHere(
                argv: argv, environment: environment, directory: directory, stdinFD: stdinFD, stdoutFD: stdoutFD,
                stderrFD: stderrFD, deathSignal: deathSignal
            )
        }
    }

    private static func spawnHere(
        argv: [String], environment: [String: String], directory: String?, stdinFD: Int32, stdoutFD: Int32,
        stderrFD: Int32, deathSignal: Int32
    ) throws -> pid_t {
        let env = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                if let directory {
                    return directory.withCString {
                        lifeline_spawn(argvPointers, envPointers, $0, stdinFD, stdoutFD, stderrFD, deathSignal, &pid)
                    }
                }
                return lifeline_spawn(argvPointers, envPointers, nil, stdinFD, stdoutFD, stderrFD, deathSignal, &pid)
            }
        }
        guard result == 0 else { throw ChildProcessError(program: argv.first ?? "", errno: result) }
        return pid
    }

    /// Waits for the child to end. waitpid blocks, so it runs on a dispatch thread, never on
    /// the cooperative pool.
    public static func wait(_ pid: pid_t) async -> Termination {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal))
            }
        }
    }

    /// Calls `body` with a NULL-terminated C array of the strings.
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}

/// A thread that never ends, running the closures given to it one at a time.
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let ready = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                ready.wait()
                let work = pending.withLock { $0.removeFirst() }
                work()
            }
        }
        thread.name = "lifeline-spawn"
        thread.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pending.withLock { $0.append { continuation.resume(with: Result { try body() }) } }
            ready.signal()
        }
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var program: String
    public var errno: Int32

    public var description: String {
        "cannot run '\(program)': \(String(cString: strerror(errno)))"
    }
}
