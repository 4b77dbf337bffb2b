import Foundation
import Logging
import Testing

@testable import LifelineQueue

@Suite("Programs held as their attempts are")
struct AttemptHoldsTests {
    static let key = AttemptKey(id: 7, attempt: 1)

    /// Runs `argv` as the attempt `key` held in `holds` would.
    static func run(_ argv: [String], in holds: AttemptHolds, stopSignal: Int32 = SIGKILL) async throws -> ChildProcess.Exit {
        try await AttemptHolds.$current.withValue(AttemptHolds.Held(holds: holds, key: key)) {
            try await ChildProcess(argv: argv, environment: ProcessInfo.processInfo.environment, directory: nil, stopSignal: stopSignal).run()
        }
    }

    /// A program that writes the time since boot (in seconds, to 10 ms) to a new file every
    /// 20 ms until it is killed, or for about 10 s; it ignores SIGTERM. Holds count on that
    /// clock, which a step of the wall clock does not move. Its attempt (``key``) is held in
    /// `holds` until `until`, and no later than `deadline`. It says `ticking` on stderr first.
    struct HeldTicker {
        let argv: [String]
        let file: URL
        let holds = AttemptHolds()
        let until: Date
        /// The hold's end, in ms since boot.
        let end: Int64

        /// - Parameter deadline: seconds to the attempt's deadline, which is then the hold's
        ///   end that counts: the test renews the hold past it.
        init(heldFor seconds: TimeInterval, deadline: TimeInterval? = nil) throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holds-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            file = directory.appendingPathComponent("ticks")
            argv = ["sh", "-c", #"trap '' TERM; echo ticking >&2; i=0; while [ $i -lt 500 ]; do read up idle < /proc/uptime; echo "$up" >> "$0"; sleep 0.02; i=$((i + 1)); done"#, file.path]
            until = Date().addingTimeInterval(seconds)
            let deadline = deadline.map { Date().addingTimeInterval($0) }
            end = HoldInstant(deadline ?? until).nanoseconds / 1_000_000
            holds.add(AttemptHoldsTests.key, until: until, deadline: deadline ?? .distantFuture)
        }

        /// The program's ticks, in ms since boot.
        var ticks: [Int64] {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Double($0).map { Int64($0 * 1000) } }
        }

        /// How long the program lived past its hold's end, in ms, with what its ticks show. A
        /// program that started after the hold's end (this test's task may start late, on
        /// threads busy with other tests) is past it from its start, and killed at once.
        var pastHold: (ms: Int64, ticks: String) {
            let ticks = self.ticks
            guard let first = ticks.first, let last = ticks.last else { return (0, "no tick") }
            return (last - max(end, first), "\(ticks.count) ticks, \(first - end) to \(last - end) ms after the hold's end")
        }

        func remove() {
            try? FileManager.default.removeItem(at: file.deletingLastPathComponent())
        }
    }

    @Test("a program whose attempt is not held longer is killed by its reaper at the hold's end, whatever its stop signal, and its attempt ends as unheld (a failed attempt, fenced)", arguments: [SIGKILL, SIGTERM])
    func stoppedAtHoldEnd(stopSignal: Int32) async throws {
        let ticker = try HeldTicker(heldFor: 0.3)
        defer { ticker.remove() }
        await #expect(throws: AttemptUnheld.self) { _ = try await Self.run(ticker.argv, in: ticker.holds, stopSignal: stopSignal) }
        // Seen by the program itself, whenever this test's task gets to run.
        let past = ticker.pastHold
        #expect(past.ms <= 250, "last sign of life \(past.ms) ms past the hold: \(past.ticks)")
        #expect(HandlerEnd(error: AttemptUnheld(program: "sh")) == .unheld(AttemptUnheld(program: "sh").description))
        // A file error from Foundation is recorded as the file and the system's words, on one line.
        let full = CocoaError(.fileWriteOutOfSpace, userInfo: [NSFilePathErrorKey: "/infra/rp-002.tmp/disk-0.img", NSUnderlyingErrorKey: POSIXError(.ENOSPC)])
        #expect(HandlerEnd(error: full) == .threw("/infra/rp-002.tmp/disk-0.img: no space left on device"))
        #expect(HandlerEnd(error: CocoaError(.fileWriteOutOfSpace)) == .threw("no space left on device"), "as FileHandle throws it")
        #expect(HandlerEnd(error: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))) == .threw("no space left on device"), "as its write throws it")
    }

    @Test("a program whose start waited its turn follows the last hold sent meanwhile, however many came before it")
    func holdsSentBeforeStart() async throws {
        let holds = AttemptHolds()
        let start = Date()
        holds.add(Self.key, until: start.addingTimeInterval(0.2), deadline: .distantFuture)
        // The monitor's thread busy with other starts: this one waits its turn while its
        // attempt is held longer every 40 ms, each hold past by the time it starts.
        let busy = DispatchSemaphore(value: 0)
        ChildMonitor.shared.perform { _ = busy.wait(timeout: .now() + 10) }
        defer { busy.signal() }
        let run = Task { try await Self.run(["sh", "-c", "exit 0"], in: holds) }
        for renewal in 1...40 {
            try await Task.sleep(for: .milliseconds(40))
            holds.hold([Self.key], until: start.addingTimeInterval(0.2 + 0.04 * Double(renewal)))
        }
        holds.hold([Self.key], until: Date().addingTimeInterval(10))
        busy.signal()
        let exit = try await run.value
        #expect(exit.termination == .exited(0), "\(exit.termination)")
    }

    @Test("a program stopped with a signal it ignores is still killed at its hold")
    func ignoredStopKilledAtHold() async throws {
        let ticker = try HeldTicker(heldFor: 3)
        defer { ticker.remove() }
        let run = Task { try await Self.run(ticker.argv, in: ticker.holds, stopSignal: SIGTERM) }
        // Stopped once it ignores SIGTERM (from its first tick on): the reaper's control pipe is
        // closed, and the program gets SIGTERM. From a thread of its own, which busy tests
        // beside this one cannot hold up.
        Thread.detachNewThread {
            while ticker.ticks.isEmpty && Date() < ticker.until { usleep(10_000) }
            run.cancel()
        }
        let result = await run.result
        #expect(throws: AttemptUnheld.self) { try result.get() }
        let past = ticker.pastHold
        #expect(past.ms <= 250, "last sign of life \(past.ms) ms past the hold: \(past.ticks)")
    }

    @Test("holds moved later keep a program running past its first hold, to its own end")
    func heldLonger() async throws {
        let holds = AttemptHolds()
        holds.add(Self.key, until: Date().addingTimeInterval(1), deadline: .distantFuture)
        // Renewals, as a worker's heartbeat makes them: each 1 s ahead, every 0.1 s, from a
        // thread of their own. Its 0.9 s of slack covers that thread being started or woken
        // late on a machine busy with the tests beside this one.
        let stop = StopFlag()
        Thread.detachNewThread {
            while !stop.isSet {
                usleep(100_000)
                holds.hold([Self.key], until: Date().addingTimeInterval(1))
            }
        }
        defer { stop.set() }
        let exit = try await Self.run(["sleep", "2.5"], in: holds)
        #expect(exit.termination == .exited(0))
    }

    @Test("renewals hold a program no later than its attempt's deadline: its reaper stops it then, as a timeout, with what it wrote last")
    func stoppedAtDeadline() async throws {
        let ticker = try HeldTicker(heldFor: 0.3, deadline: 1)
        defer { ticker.remove() }
        let firstHold = HoldInstant(ticker.until).nanoseconds / 1_000_000
        let stop = StopFlag()
        Thread.detachNewThread {
            while !stop.isSet {
                usleep(100_000)
                ticker.holds.hold([Self.key], until: Date().addingTimeInterval(0.3))
            }
        }
        defer { stop.set() }
        let error = await #expect(throws: AttemptPastDeadline.self) { _ = try await Self.run(ticker.argv, in: ticker.holds) }
        // What it wrote before its first tick, unless this test's task started it only after
        // the deadline, and it was stopped before it wrote anything.
        if !ticker.ticks.isEmpty { #expect(error?.output == "ticking", "\(String(describing: error))") }
        // Seen by the program itself, whenever this test's task gets to run.
        let past = ticker.pastHold
        #expect(past.ms <= 250, "last sign of life \(past.ms) ms past the deadline: \(past.ticks)")
        // Unless this test's task started it only after the deadline, the renewals held it past its first hold.
        if let first = ticker.ticks.first, first < firstHold {
            #expect((ticker.ticks.last ?? 0) > firstHold + 500, "held by the renewals to the deadline: \(past.ticks)")
        }
        let end = HandlerEnd(error: AttemptPastDeadline(program: "sh", output: "ticking"))
        #expect(end == .pastDeadline(output: "ticking"), "the reaper's stop, a timeout whoever reports it")
        #expect(end.outcome(stoppedFor: nil, timeout: .seconds(2)) == .failed(error: "timed out after 2s: ticking"))
        #expect(end.outcome(stoppedFor: .timeout, timeout: .seconds(2)) == .failed(error: "timed out after 2s: ticking"))
        #expect(HandlerEnd.pastDeadline(output: "").outcome(stoppedFor: nil, timeout: .seconds(2)) == .failed(error: "timed out after 2s"))
    }

    @Test("an attempt's program times out at the deadline its worker gives, counted from the claim, however late it starts")
    func deadlineFromTheWorker() async throws {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        let runner = InProcessRunner(registry: registry)
        // Its own timeout is 30 minutes: only the deadline given can stop it sooner.
        let job = Job(
            id: Self.key.id, queue: "default", kind: "exec", args: .object(["argv": .array([.string("sleep"), .string("30")])]), state: .running,
            priority: 0, attempt: Self.key.attempt, maxAttempts: 1, timeout: .seconds(1800), backoff: .standard, runAt: Date(), createdAt: Date()
        )
        let (ends, ended) = AsyncStream.makeStream(of: HandlerEnd.self)
        let started = ContinuousClock.now
        runner.start(
            job, heldUntil: Date().addingTimeInterval(60), deadline: Date().addingTimeInterval(0.3), logger: Logger(label: "test"), progress: { _ in },
            onStop: { _ in }, ended: { ended.yield($0) }
        )
        var iterator = ends.makeAsyncIterator()
        let end = await iterator.next()
        #expect(end == .pastDeadline(output: ""))
        #expect(ContinuousClock.now - started < .seconds(10), "stopped at the deadline given, not at its own timeout")
    }

    @Test("a program outside any attempt, or of an attempt that has ended, is not held")
    func notHeld() async throws {
        let holds = AttemptHolds()
        #expect(holds.watch(Self.key) { _ in } == nil)
        holds.add(Self.key, until: Date().addingTimeInterval(0.3), deadline: .distantFuture)
        holds.remove(Self.key)
        let exit = try await Self.run(["sleep", "0.5"], in: holds)
        #expect(exit.termination == .exited(0))
    }
}
