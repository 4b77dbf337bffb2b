import Foundation
import LifelineTestKit
import Testing

@testable import LifelineQueue

@Suite("Programs run under a reaper")
struct ChildProcessTests {
    static func program(_ script: String) -> ChildProcess {
        ChildProcess(argv: ["sh", "-c", script], environment: ProcessInfo.processInfo.environment, directory: nil)
    }

    @Test("a program that has ended is let go, with what watched it")
    func endedProgramLetGo() async throws {
        weak var ended: RunningChild?
        do {
            let child = try await Self.program("echo done").start()
            ended = child
            let exit = try await child.exit()
            #expect(exit.termination == .exited(0) && exit.stdoutTail == "done\n")
        }
        // The monitor's thread lets go of it once it has handed the end over.
        try await waitUntil("the ended program to be let go", timeout: .seconds(10)) { ended == nil }
    }

    @Test("a program whose start waits behind others, its task cancelled meanwhile, never starts, and its run ends at once")
    func cancelledBeforeStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let marker = directory.path("started")
        // The monitor's thread busy with other starts for 5 s: this one waits its turn.
        let busy = DispatchSemaphore(value: 0)
        ChildMonitor.shared.perform { _ = busy.wait(timeout: .now() + 5) }
        defer { busy.signal() }
        let run = Task { try await Self.program("touch \(marker)").run() }
        run.cancel()
        let cancelled = ContinuousClock.now
        await #expect(throws: CancellationError.self) { try await run.value }
        #expect(ContinuousClock.now - cancelled < .seconds(1), "not once the start's turn came")
        busy.signal()
        // Past its turn, the start was skipped.
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in ChildMonitor.shared.perform { turn.resume() } }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("of a long output, the end is kept from a line's start, after a line saying how much came before; the one-line quote is cut the same way")
    func keptTail() async throws {
        let exit = try await Self.program("seq 1 200000; seq 1 300 | tr '\\n' ' ' >&2; exit 3").start().exit()
        let lines = exit.stdoutTail.split(separator: "\n")
        let total = (1...200_000).reduce(0) { $0 + "\($1)\n".utf8.count }
        let kept = lines.dropFirst().reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(lines.first == "[\(total - kept) bytes before]", "\(lines.prefix(2))")
        #expect(lines.dropFirst().map { Int($0) ?? 0 } == Array((200_001 - lines.count + 1)...200_000), "whole numbers, in order")
        #expect(kept <= ChildProcess.tailBytes)
        // The quote has no line to start at: it says it is cut.
        #expect(exit.quotedTail.hasPrefix("…") && exit.quotedTail.hasSuffix(" 299 300") && exit.quotedTail.count == 513, "\(exit.quotedTail)")
        // A kept stderr whose end is short is quoted after …, without the line that says it was cut.
        let failed = try await Self.program("head -c 5000 /dev/zero | tr '\\0' x >&2; printf '\\nerror: boom\\r\\n' >&2; exit 3").start().exit()
        #expect(failed.stderrTail.hasPrefix("[5001 bytes before]\n") && failed.quotedTail == "…error: boom", "\(failed.quotedTail)")
        let short = try await Self.program("echo done").start().exit()
        #expect(short.stdoutTail == "done\n", "a short output is kept as it is")
    }

    @Test("a program's reaper and sentinel show as what they are in ps and pgrep -f, not as more of this process")
    func reaperShownAsSuch() async throws {
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let child = try await Self.program("exec sleep \(marker)").start()
        defer { child.kill() }
        var program: Int32?
        try await waitUntil("the program to start") {
            program = ProcessTable.pids(commandLineContaining: "sleep \(marker)").first
            return program != nil
        }
        let started = try #require(program)
        let reaper = try #require(ProcessTable.parent(of: started))
        #expect(ProcessTable.name(of: reaper) == "lifeline-reaper")
        #expect(ProcessTable.commandLine(of: reaper) == ["lifeline-reaper", "sh"])
        // The sentinel starts once the program has, and names itself then.
        var sentinel: Int32?
        try await waitUntil("the sentinel to name itself") {
            sentinel = ProcessTable.children(of: reaper).first { $0 != started && ProcessTable.name(of: $0) == "lifeline-sentry" }
            return sentinel != nil
        }
        // It shares its reaper's memory, the command line's with the rest.
        let named = try #require(sentinel)
        #expect(ProcessTable.commandLine(of: named) == ["lifeline-reaper", "sh"])
    }

    @Test("a stopped program whose reaper is stopped (SIGSTOP) ends a second later all the same, with its group")
    func stopWithStoppedReaper() async throws {
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let child = try await Self.program("sleep \(marker) & exec sleep \(marker)").start()
        var sleeps: [Int32] = []
        try await waitUntil("both sleeps to start") {
            sleeps = ProcessTable.pids(commandLineContaining: "sleep \(marker)")
            return sleeps.count == 2
        }
        // The program's parent; the other sleep's is the program.
        let reaper = try #require(sleeps.compactMap(ProcessTable.parent).first { !sleeps.contains($0) })
        kill(reaper, SIGSTOP)
        // Should the stop not end it, the test kills the reaper itself, late, rather than hang.
        let rescue = Task {
            try await Task.sleep(for: .seconds(15))
            kill(reaper, SIGKILL)
        }
        defer { rescue.cancel() }
        let stopped = ContinuousClock.now
        child.kill()
        let exit = try await child.exit()
        #expect(exit.termination == .signalled(SIGKILL), "its reaper was killed")
        #expect(ContinuousClock.now - stopped < .seconds(5), "a second's grace, not the program's end")
        try await waitUntil("the program's group to be gone", timeout: .seconds(10)) {
            ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty
        }
        #expect(ProcessTable.state(reaper) == nil, "the reaper is gone")
    }

    @Test("a program whose reaper is killed from outside (SIGKILL) leaves nothing of its group running")
    func reaperKilledFromOutside() async throws {
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        // A shell that waits for a child in its group, as a job's script does.
        let child = try await Self.program("sleep \(marker) & wait").start()
        // Should the group outlive the test, it goes with it.
        defer { ProcessTable.pids(commandLineContaining: "sleep \(marker)").forEach { kill($0, SIGKILL) } }
        var shell: Int32?
        try await waitUntil("the shell's sleep to start") {
            shell = ProcessTable.parentsListed(commandLineContaining: "sleep \(marker)").first
            return shell != nil
        }
        let program = try #require(shell)
        let reaper = try #require(ProcessTable.parent(of: program))
        kill(reaper, SIGKILL)
        let exit = try await child.exit()
        #expect(exit.termination == .signalled(SIGKILL), "its reaper was killed")
        try await waitUntil("the program's group to be gone", timeout: .seconds(10)) {
            ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty
        }
    }
}
