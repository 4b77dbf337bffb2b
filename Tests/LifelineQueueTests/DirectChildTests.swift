import CLifelineSystem
import Foundation
import LifelineTestKit
import Testing

@testable import LifelineQueue

@Suite("Processes started without a reaper (a pool's runners)")
struct DirectChildTests {
    /// A socket pair: the child's end, and this test's.
    static func socketPair() throws -> (child: Int32, ours: Int32) {
        var ends: [Int32] = [0, 0]
        try #require(lifeline_socketpair_cloexec(&ends) == 0)
        return (ends[1], ends[0])
    }

    /// `script` started with a socket as its stdin, and this test's end of the socket; watched
    /// through a pidfd, or by its pid as where pidfds are refused.
    static func started(_ script: String, pidfd: Bool) async throws -> (process: DirectChild, ours: Int32) {
        let (child, ours) = try socketPair()
        defer { close(child) }
        do {
            let environment = ProcessInfo.processInfo.environment
            return (try await DirectChild.start(path: "/bin/sh", argv: ["sh", "-c", script], environment: environment, input: child, pidfd: pidfd), ours)
        } catch {
            close(ours)
            throw error
        }
    }

    @Test("it reads the socket it is given as its stdin, and its exit status is waited for (through a pidfd, and by its pid)", arguments: [true, false])
    func exitStatus(pidfd: Bool) async throws {
        let (process, ours) = try await Self.started("read line && exit $line", pidfd: pidfd)
        defer { close(ours) }
        _ = "7\n".withCString { write(ours, $0, 2) }
        #expect(await process.exit() == .exited(7))
        // Killed after its end: nothing, and its end is still what it was.
        process.kill()
        #expect(await process.exit() == .exited(7))
    }

    @Test("kill() ends it with SIGKILL, stopped or not (through a pidfd, and by its pid)", arguments: [true, false])
    func killStopped(pidfd: Bool) async throws {
        let (process, ours) = try await Self.started("exec sleep 30", pidfd: pidfd)
        defer { close(ours) }
        let pid = process.pid
        kill(pid, SIGSTOP)
        try await waitUntil("it to stop") { ProcessTable.isStopped(pid) }
        process.kill()
        #expect(await process.exit() == .signalled(SIGKILL))
    }

    @Test("a program that cannot be run is refused at start, with why")
    func missingProgram() async throws {
        let (child, ours) = try Self.socketPair()
        defer { close(ours) }
        defer { close(child) }
        let error = await #expect(throws: ChildProcessError.self) {
            _ = try await DirectChild.start(path: "/nonexistent/program", argv: ["program"], environment: [:], input: child)
        }
        #expect(error?.errno == ENOENT)
    }
}
