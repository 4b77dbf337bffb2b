import CLifelineSystem
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The runner processes of a pool. One process, the pool's writer, claims and records every
/// attempt (one SQLite writer: group commit across the whole pool, and no turns taken on the
/// write lock); P runner processes run the handlers and report over a socket each. Runners
/// that die are restarted with backoff; the attempts they held are not recorded, and go back
/// to their queues when their leases run out, as when a worker dies. Each runner is told how
/// long each of its attempts' leases holds, and stops the attempts not held longer in time on
/// its own: a writer that stops answering leaves no attempt running once another worker may
/// take its job.
public final class RunnerPool: AttemptRunner {
    /// An attempt handed out: what its runner's news about it needs.
    private struct Attempt: Sendable {
        let key: AttemptKey
        let end: EndOnce
        let progress: @Sendable (JSONValue) -> Void
        /// Until when it may run unless held longer (see ``AttemptRunner/hold(_:until:)``).
        var holdUntil: Date
        /// When it times out (see ``AttemptRunner/start(_:heldUntil:deadline:logger:progress:onStop:ended:)``).
        let deadline: Date
    }

    /// An attempt waiting for a runner with room, and the job it runs. One handed to a runner
    /// keeps no job: a copy of a `Job` retains every one of its strings.
    private struct Waiting: Sendable {
        var attempt: Attempt
        let job: Job

        var key: AttemptKey { attempt.key }
    }

    private struct Runner {
        /// A number never reused, so news from a runner that died never reaches its successor.
        let id: Int
        let process: DirectChild
        var attempts: [AttemptKey: Attempt] = [:]
        /// When the oldest hold it has not answered (``RunnerMessage/alive``) was sent, and
        /// until when that hold held.
        var unansweredSince: (sent: ContinuousClock.Instant, until: Date)?
        /// Its attempts are held at least until then: the end of a hold it has answered. Its
        /// programs' reapers stop them then, even while it cannot answer.
        var answeredUntil: Date?

        /// Silent for longer than `answerWithin`, and past the holds it answered: stopped or
        /// wedged. One merely slow (starved by its own programs' starts) keeps its attempts,
        /// which run out at those holds' end anyway.
        func isSilent(at now: ContinuousClock.Instant, answerWithin: Duration) -> Bool {
            guard let unanswered = unansweredSince, now - unanswered.sent > answerWithin else { return false }
            return answeredUntil.map { $0 <= Date() } ?? true
        }

        /// Hands it an attempt of `job`. Queued under the pool's lock (sending never blocks): a
        /// stop, which looks the attempt up under it, can never overtake the run it stops.
        mutating func run(_ attempt: Attempt, of job: Job, on sockets: RunnerSockets) {
            attempts[attempt.key] = attempt
            sockets.sendRun(job, holdUntil: attempt.holdUntil, deadline: attempt.deadline, to: id)
        }
    }

    private struct State {
        /// A few (one per process), so a list: looked through in place, a runner is neither
        /// hashed nor copied (by callgrind, copies of runners were 4,000 instructions of every
        /// attempt a pool's writer handed out).
        var runners: [Runner] = []
        var nextRunner = 0
        /// Attempts waiting for a runner with room.
        var waiting: [Waiting] = []
        /// Counts the claims started: the attempts of the one being started look for room
        /// first in the runner it names, modulo the runners up (see ``startingClaim(_:)``).
        var claims = 0
        var stopping = false
        /// Every runner process until it has exited, by its runner's number: a runner is
        /// retired when its socket closes, its process may outlive that (stopped, wedged).
        var processes: [Int: DirectChild] = [:]
        /// Runners were killed for not ending once told to (``killRemaining()``): their end is
        /// the pool's doing, not a failure of theirs.
        var killedAtStop = false

        /// Where runner `id` is in `runners`, if it is still up.
        func index(of id: Int) -> Int? {
            runners.indices.first { runners[$0].id == id }
        }

        /// Where the runner that runs `key` is in `runners`.
        func index(running key: AttemptKey) -> Int? {
            runners.indices.first { runners[$0].attempts[key] != nil }
        }
    }

    private let childProgram: String
    private let childArguments: [String]
    private let childEnvironment: [String: String]
    private let processes: Int
    /// Attempts each runner runs at once.
    private let concurrency: Int
    /// How long a runner may take to end an attempt it was told to stop: its own cancellation
    /// grace, and some. A runner past it (stopped, wedged, or running a handler that ignores
    /// its stop) is killed: the pool renews its attempts' leases, so nobody else would ever
    /// take them back, and only the process's death ends such a handler for sure.
    private let stopGrace: Duration
    /// How long a runner may take to answer a hold. One past it (stopped, wedged) is killed:
    /// otherwise the pool would renew its attempts' leases while nothing runs them, and no
    /// other worker could take their jobs.
    private let answerWithin: Duration
    private let logger: Logger
    private let state = Mutex(State())
    /// The runners' sockets, each named by its runner's number.
    private let sockets: RunnerSockets
    private static let restartBackoff = Backoff(base: .milliseconds(250), cap: .seconds(30))

    /// - Parameters:
    ///   - childProgram: the program of a runner process, which serves the socket it gets as its
    ///     stdin (see ``RunnerService``).
    ///   - childArguments: its command line, the name ps shows first.
    ///   - childEnvironment: its environment.
    ///   - answerWithin: how long a runner may take to answer a hold: the worker's renewal
    ///     interval, so that a runner that stops is found before the leases it holds are
    ///     renewed much longer.
    public init(
        childProgram: String, childArguments: [String], childEnvironment: [String: String], processes: Int, concurrency: Int,
        stopGrace: Duration = WorkerConfiguration().cancellationGrace + .seconds(5), answerWithin: Duration, logger: Logger
    ) throws(ChildProcessError) {
        self.childProgram = childProgram
        self.childArguments = childArguments
        self.childEnvironment = childEnvironment
        self.processes = processes
        self.concurrency = concurrency
        self.stopGrace = stopGrace
        self.answerWithin = answerWithin
        self.logger = logger
        sockets = try RunnerSockets()
    }

    /// Keeps the runner processes up until ``shutdown()``; returns whether every one ended cleanly.
    public func superviseProcesses() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for slot in 0..<processes {
                group.addTask { await self.supervise(slot: slot) }
            }
            var clean = true
            for await ok in group { clean = clean && ok }
            return clean
        }
    }

    /// Ends the runner processes (once the worker has stopped, no attempt is left in them):
    /// each exits once its socket closes. One that has not within the stop grace (stopped,
    /// wedged) is killed: the pool's process would otherwise wait for it for ever.
    public func shutdown() {
        let ids = state.withLock { state in
            state.stopping = true
            return state.runners.map(\.id)
        }
        for id in ids { sockets.close(id) }
        Task { [self] in
            guard (try? await Task.sleep(for: stopGrace)) != nil else { return }
            killRemaining()
        }
    }

    /// Kills the runner processes still there, stopped or not: after ``shutdown()``, at its
    /// grace's end or at once when the pool is asked again to stop. Asked before it (a second
    /// signal while the worker stops their attempts), those that still hold attempts a second
    /// later: stopped or wedged, they would never report them (their jobs are left to their
    /// leases, as a handler's that ignores its stop is); the others end when told.
    public func killRemaining() {
        guard state.withLock({ $0.stopping }) else {
            Task { [self] in
                try? await Task.sleep(for: .seconds(1))
                abandonUnended()
            }
            return
        }
        let left = state.withLock { state -> [DirectChild] in
            guard state.stopping, !state.processes.isEmpty else { return [] }
            state.killedAtStop = true
            return Array(state.processes.values)
        }
        guard !left.isEmpty else { return }
        logger.error("worker processes did not end once told to; killing them", metadata: ["count": "\(left.count)"])
        for process in left { process.kill() }
    }

    public func abandonUnended() {
        let holding = state.withLock { state in
            // None is started again, and the end of those killed is the pool's doing.
            state.stopping = true
            state.killedAtStop = true
            return state.runners.filter { !$0.attempts.isEmpty }.map(\.process)
        }
        guard !holding.isEmpty else { return }
        logger.error("worker processes did not end once told to; killing them", metadata: ["count": "\(holding.count)"])
        for process in holding { process.kill() }
    }

    public func start(
        _ job: consuming Job, heldUntil: Date, deadline: Date, logger: Logger, progress: @escaping @Sendable (JSONValue) -> Void,
        onStop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void, ended: @escaping @Sendable (HandlerEnd) -> Void
    ) {
        let key = AttemptKey(id: job.id, attempt: job.attempt)
        let attempt = Attempt(key: key, end: EndOnce(ended), progress: progress, holdUntil: heldUntil, deadline: deadline)
        state.withLock { state in
            let count = state.runners.count
            let first = count > 0 ? state.claims % count : 0
            guard let offset = (0..<count).first(where: { state.runners[(first + $0) % count].attempts.count < concurrency }) else {
                state.waiting.append(Waiting(attempt: attempt, job: copy job))
                return
            }
            state.runners[(first + offset) % count].run(attempt, of: job, on: sockets)
        }
        onStop { [self] in stop(key) }
    }

    /// A claim's attempts fill one runner before the next: a claim of 32 wakes two runners of
    /// 16 slots, not every runner (by perf stat of 50,000-job 4 x 16 drains, 18,700 context
    /// switches against 21,700 when each attempt went to the runner with the fewest). Each
    /// claim starts one runner further on, so attempts still spread over the runners from claim
    /// to claim; a burst claimed at once shares one runner's thread and fate (the pool's
    /// handlers do their heavy work on threads of their own, ``BlockingWork``, or in programs).
    /// The claim's runs are sent once all are queued: each runner is woken once for them.
    public func startingClaim(_ start: () -> Void) {
        state.withLock { $0.claims = ($0.claims &+ 1) & Int.max }
        sockets.gathering(start)
    }

    public func hold(_ keys: [AttemptKey], until: Date) {
        let now = ContinuousClock.now
        let silent = state.withLock { state in
            for key in keys {
                if let index = state.waiting.firstIndex(where: { $0.key == key }) {
                    state.waiting[index].attempt.holdUntil = until
                } else if let index = state.index(running: key) {
                    state.runners[index].attempts[key]!.holdUntil = until
                    state.runners[index].unansweredSince = state.runners[index].unansweredSince ?? (now, until)
                    sockets.send(.hold(key, until: until), to: state.runners[index].id)
                }
            }
            let silent = state.runners.indices.filter { state.runners[$0].isSilent(at: now, answerWithin: answerWithin) }
            // Killed once: it is retired when it has died.
            for index in silent { state.runners[index].unansweredSince = nil }
            return silent.map { state.runners[$0] }
        }
        for runner in silent {
            logger.error(
                "worker process does not answer; killing it, and its jobs go back when their leases run out",
                metadata: ["jobs": "\(LoggedIDs.text(runner.attempts.keys.map(\.id)))", "within": "\(DurationText.format(answerWithin))"]
            )
            runner.process.kill()
        }
    }

    private func stop(_ key: AttemptKey) {
        let (holder, unstarted) = state.withLock { state -> ((id: Int, end: EndOnce)?, Attempt?) in
            if let index = state.waiting.firstIndex(where: { $0.key == key }) {
                return (nil, state.waiting.remove(at: index).attempt)
            }
            guard let index = state.index(running: key), let attempt = state.runners[index].attempts[key] else { return (nil, nil) }
            let id = state.runners[index].id
            sockets.send(.stop(key), to: id)
            return ((id, attempt.end), nil)
        }
        unstarted?.end(.notStarted)
        if let holder { Task { await killIfStillHeld(key, end: holder.end, by: holder.id) } }
    }

    /// Kills runner `id` if it still runs the attempt stopped, known by its `end`: a job given
    /// back without spending an attempt (it never started) may be running there again since,
    /// as a new attempt under the same number.
    private func killIfStillHeld(_ key: AttemptKey, end: EndOnce, by id: Int) async {
        guard (try? await Task.sleep(for: stopGrace)) != nil else { return }
        let process = state.withLock { state in
            state.index(of: id).flatMap { state.runners[$0].attempts[key]?.end === end ? state.runners[$0].process : nil }
        }
        guard let process else { return }
        logger.error("worker process does not end a stopped job; killing it", metadata: ["job": "\(key.id)", "attempt": "\(key.attempt)", "grace": "\(stopGrace)"])
        process.kill()
    }

    /// A read's messages from runner `id`, under one lock; the ends and progress they carry
    /// are passed on once it is released.
    private func received(_ messages: [RunnerMessage], from id: Int) {
        var ended: [(Attempt, HandlerEnd)] = []
        // Most messages are ends: room for them at once, not by doubling.
        ended.reserveCapacity(messages.count)
        var progress: [(Attempt, JSONValue)] = []
        state.withLock { state in
            // A runner retired has nothing left to report.
            guard let index = state.index(of: id) else { return }
            for message in messages {
                switch message {
                case .ended(let key, let end):
                    guard let attempt = state.runners[index].attempts.removeValue(forKey: key) else { continue }
                    ended.append((attempt, end))
                    // The room it leaves goes to the attempt waiting longest.
                    if !state.waiting.isEmpty {
                        let next = state.waiting.removeFirst()
                        state.runners[index].run(next.attempt, of: next.job, on: sockets)
                    }
                case .progress(let key, let value):
                    if let attempt = state.runners[index].attempts[key] { progress.append((attempt, value)) }
                case .alive:
                    if let answered = state.runners[index].unansweredSince?.until {
                        state.runners[index].answeredUntil = max(state.runners[index].answeredUntil ?? answered, answered)
                    }
                    state.runners[index].unansweredSince = nil
                case .run, .stop, .hold:
                    logger.error("a worker process sent a message only its pool sends; ignored")
                }
            }
        }
        for (attempt, value) in progress { attempt.progress(value) }
        for (attempt, end) in ended { attempt.end(end) }
    }

    /// The runner is gone: the attempts it held cannot be known to have ended, or not.
    private func retire(_ id: Int, _ why: String) {
        guard let runner = state.withLock({ state in state.index(of: id).map { state.runners.remove(at: $0) } }) else { return }
        sockets.close(id)
        for attempt in runner.attempts.values { attempt.end(.lost(why)) }
    }

    /// Keeps one runner process up in `slot` until the pool stops; returns whether the last one ended cleanly.
    private func supervise(slot: Int) async -> Bool {
        var restarts = 0
        while !state.withLock({ $0.stopping }) {
            let started = ContinuousClock.now
            let termination: ChildProcess.Termination
            do {
                termination = try await runOne(slot: slot)
            } catch {
                logger.error("cannot start worker process", metadata: ["slot": "\(slot)", "error": "\(error)"])
                termination = .exited(127)
            }
            if let killed = state.withLock({ $0.stopping ? $0.killedAtStop : nil }) { return termination == .exited(0) || killed }
            // A process that ran a while before dying starts over with a short delay.
            if ContinuousClock.now - started > .seconds(60) { restarts = 0 }
            restarts += 1
            let delay = Self.restartBackoff.delay(afterAttempt: restarts)
            logger.error("worker process died; restarting", metadata: ["slot": "\(slot)", "how": "\(termination)", "in": "\(delay)"])
            try? await Task.sleep(for: delay)
        }
        return true
    }

    /// Starts one runner process, gives it the attempts waiting for one, and waits for its end.
    private func runOne(slot: Int) async throws -> ChildProcess.Termination {
        var ends: [Int32] = [0, 0]
        guard lifeline_socketpair_cloexec(&ends) == 0 else { throw ChildProcessError(program: "socketpair", stage: .spawn, errno: errno) }
        let child: DirectChild
        do {
            // If this process dies, or kills a runner that stopped answering, the runner gets
            // SIGKILL (a stopped process ignores anything else); its attempts' leases run out.
            child = try await DirectChild.start(path: childProgram, argv: childArguments, environment: childEnvironment, input: ends[1])
            close(ends[1])
        } catch {
            close(ends[1])
            close(ends[0])
            throw error
        }
        let (closed, closing) = AsyncStream<Void>.makeStream()
        let (id, stopping) = state.withLock { state in
            let id = state.nextRunner
            state.nextRunner += 1
            var runner = Runner(id: id, process: child)
            // Served from here on, under the lock: what the runner reports finds it.
            sockets.add(id, fd: ends[0], receiver: RunnerSockets.Receiver(messages: { [self] in received($0, from: id) }, closed: { [self] why in
                retire(id, "its worker process is gone (\(why))")
                closing.finish()
            }))
            let taken = Array(state.waiting.prefix(concurrency))
            state.waiting.removeFirst(taken.count)
            for waiting in taken { runner.run(waiting.attempt, of: waiting.job, on: sockets) }
            state.runners.append(runner)
            state.processes[id] = child
            return (id, state.stopping)
        }
        // A shutdown that raced the start still reaches this runner.
        if stopping { sockets.close(id) }
        logger.debug("worker process started", metadata: ["slot": "\(slot)"])
        let termination = await child.exit()
        state.withLock { _ = $0.processes.removeValue(forKey: id) }
        // What the process wrote before it ended is read first: an attempt it reported ended
        // is recorded, not lost. Its socket closes with it; two seconds is a bound, not a wait.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in closed {} }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        retire(id, "its worker process died (\(termination))")
        return termination
    }
}
