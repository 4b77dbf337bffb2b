import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

/// One server action as a subcommand; the type parameter names the action. A class, not a
/// protocol: building the command tree at every start instantiates each action's command type,
/// and the runtime checks a superclass requirement by walking a chain, where a protocol one
/// scans every conformance record in the binary.
class ServerActionName {
    class var action: ServerAction { fatalError("each action names itself") }
}

final class Failover: ServerActionName { override class var action: ServerAction { .failover } }
final class TestFailover: ServerActionName { override class var action: ServerAction { .testFailover } }
final class CancelFailover: ServerActionName { override class var action: ServerAction { .cancelFailover } }
final class Failback: ServerActionName { override class var action: ServerAction { .failback } }
final class ConfirmFailback: ServerActionName { override class var action: ServerAction { .confirmFailback } }
final class CancelFailback: ServerActionName { override class var action: ServerAction { .cancelFailback } }
final class StopTest: ServerActionName { override class var action: ServerAction { .stopTest } }
final class Retry: ServerActionName { override class var action: ServerAction { .retry } }
final class Delete: ServerActionName { override class var action: ServerAction { .delete } }

extension ServerAction {
    /// What the action does, for `--help`.
    var summary: String {
        switch self {
        case .failover: "Start the recovery server from a recovery point and move the workload to it."
        case .testFailover: "Start a temporary VM from a recovery point in an isolated network."
        case .cancelFailover: "Switch the workload back to the original machine and remove the VM."
        case .failback: "Power the VM off and back it up to cloud storage, to recover the original machine from."
        case .confirmFailback: "Release the recovery server's cloud resources after the failback."
        case .cancelFailback: "Power the VM on again and return to failover."
        case .stopTest: "Discard the test VM and its changes."
        case .retry: "Resume a failed finalization from its checkpoint."
        case .delete: "Delete the recovery server and its files."
        }
    }
}

struct ServerActionCommand<Name: ServerActionName>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Name.action.rawValue,
            abstract: Name.action.summary,
            discussion: """
                Allowed in: \(ServerState.allCases.filter { $0.allowedActions.contains(Name.action) }.map(\.rawValue).joined(separator: ", "))\
                \(Name.action == .failover ? ", while no other server of its machine holds the workload" : ""). \
                Refused (exit 3) in any other state; the error says the state, the allowed actions \
                and, when busy, the job at work. The same --idempotency-key again returns the same job.

                Example:
                  lifeline server \(Name.action.rawValue) \(Name.action == .delete ? "db-1" : "web-1") --wait
                """
        )
    }

    @Argument(help: "The server.")
    var name: String

    /// Shown only in the help of the actions that take it; the others refuse it in one line.
    @Option(
        name: .customLong("recovery-point"),
        help: ArgumentHelp("The recovery point to start from (default: the latest; lifeline server points NAME lists them).", visibility: Name.action.takesRecoveryPoint ? .default : .private)
    )
    var recoveryPoint: String?

    @OptionGroup var options: ServerActionOptions

    func validate() throws {
        if recoveryPoint != nil && !Name.action.takesRecoveryPoint {
            throw ValidationError("--recovery-point goes with failover and test-failover")
        }
    }

    func run() async throws {
        try ServerNames.check(name)
        if let recoveryPoint { try ServerNames.check(recoveryPoint, what: "recovery point") }
        let waitLimit = try options.waitLimit()
        try InfrastructureChoice.checkKind()
        let opened = try await options.store.openStore(creating: false)
        if let recoveryPoint, let server = try await opened.servers.serverGet(name) {
            try await RecoveryPointCheck.check(recoveryPoint, for: Name.action, server: server, infraRoot: options.store.infraRoot)
        }
        let result: ActionResult
        do {
            result = try await opened.servers.serverAct(
                name, action: Name.action, recoveryPoint: recoveryPoint, idempotencyKey: options.idempotencyKey
            )
        } catch let refused as LifecycleError {
            throw CLIFailure(.conflict, refused.description(server: name))
        } catch ServerStoreError.notFound {
            throw await FilterHint.noServer(name, in: opened)
        }
        try await options.report(result, action: Name.action.rawValue, goal: Name.action.goal, waitLimit: waitLimit, opened: opened)
    }
}

/// What every action takes: an idempotency key, waiting, JSON output.
struct ServerActionOptions: ParsableArguments {
    @Option(name: .customLong("idempotency-key"), help: ArgumentHelp("Do the action at most once under this key.", valueName: "K"))
    var idempotencyKey: String?

    @Flag(help: "Wait until the server rests again, with a progress bar on a terminal: exit 0 where the action leads, 1 where it rests elsewhere, 130 at Ctrl-C (the action goes on).")
    var wait = false

    @Option(parsing: .unconditional, help: ArgumentHelp("With --wait: give up after this long (exit 1); without it, wait as long as it takes.", valueName: "D"))
    var timeout: String?

    @Flag(help: #"Print {"job": ID, "existing": BOOL, "server": {...}}."#)
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if timeout != nil && !wait { throw ValidationError("--timeout goes with --wait") }
    }

    /// `--timeout`, read before the action is requested, so a bad one requests nothing.
    func waitLimit() throws -> Duration? {
        try timeout.map(InputParsing.waitTimeout)
    }

    /// Prints the action's result. With --wait, waits until the server rests, and fails
    /// (exit 1) unless it rests where the action leads: `goal`, or gone when that is `nil`.
    func report(_ result: ActionResult, action: String, goal: ServerState?, waitLimit: Duration?, opened: OpenQueue) async throws {
        var result = result
        let output = Output.standardOutput
        if !result.existing { Output.made("\(action) requested: job \(result.job)") }
        // A request replayed under its key after the server moved on did not get it there, and
        // waiting would not: said alike with --wait and without.
        let movedOn = result.existing && (result.serverReplaced || (result.server.map { $0.state.isResting && $0.state != goal } ?? (goal != nil)))
        if wait, !movedOn, let name = result.server?.name {
            do {
                let again = goal.map { "lifeline server wait \(name) --state \($0.rawValue)" } ?? "lifeline server show \(name)"
                let job = result.job
                // The job named is the one under way: a later stage's, once the first is done.
                let waiter = ServerWaiter(opened, timeout: waitLimit) { "\(action) goes on (job \($0?.lifecycle.currentJob ?? job); \(again))" }
                result.server = try await waiter.waitUntilResting(name)
            } catch {
                // The action was taken all the same: a program still gets its job, and the
                // server as it is now.
                if json {
                    result.server = (try? await opened.servers.serverGet(name)) ?? result.server
                    try output.writeJSON(result)
                }
                throw error
            }
        }
        let server = result.server
        if json {
            try output.writeJSON(result)
        } else if !movedOn {
            let state = server.map { "\($0.name) is \($0.state.rawValue)" } ?? "the server is gone"
            output.writeLine(result.existing ? "\(action) already requested: job \(result.job); \(state)" : "\(action): job \(result.job); \(state)")
        }
        let goalText = goal?.rawValue ?? "removed"
        if movedOn {
            let now = server.map { server in
                result.serverReplaced
                    ? "that server was removed since, and \(server.name) is another one now, in \(server.state.rawValue)"
                    : "\(server.name) rests in \(server.state.rawValue), not \(goalText)"
            } ?? "the server is gone"
            throw CLIFailure(.runtime, "\(action) was requested earlier (job \(result.job)); \(now)")
        }
        guard wait, server?.state != goal else { return }
        guard let server else {
            // A server that failed to be created is removed with its last error: the job keeps it.
            let lastError = (try? await opened.jobs.jobGet(result.job))??.errors.last?.error
            let error = lastError.map { ": \(TerminalText.oneLine($0))" } ?? ""
            throw CLIFailure(.runtime, "\(action) failed: the server was removed, not \(goalText)\(error)")
        }
        let error = server.lastError.map { ": \(TerminalText.oneLine($0))" } ?? ""
        // An earlier request still under way when replayed may end elsewhere.
        if result.existing {
            throw CLIFailure(
                .runtime, "\(action) was requested earlier (job \(result.job)); \(server.name) came to rest in \(server.state.rawValue), not \(goalText)\(error)"
            )
        }
        if let history = try? await opened.servers.serverHistory(server.name),
           let (other, reached) = Self.turnedAside(history, job: result.job, action: action, goal: goal) {
            let request = "\(other.cause)\(other.job.map { " (job \($0))" } ?? "") was requested"
            throw CLIFailure(
                .runtime, (reached ? "\(action) reached \(goalText), then \(request)" : "\(action) did not complete: \(request) meanwhile")
                    + "; \(server.name) came to rest in \(server.state.rawValue), not \(goalText)"
            )
        }
        throw CLIFailure(.runtime, "\(action) failed: \(server.name) came to rest in \(server.state.rawValue), not \(goalText)\(error)")
    }

    /// The first action requested of the server after the request that enqueued `job` (a
    /// cancel from another terminal), and whether the server reached `goal` before it, at a
    /// rest too short for the wait to see: what turned the operation aside, rather than a
    /// stage failing. nil when nothing was requested since.
    static func turnedAside(
        _ history: [ServerTransition], job: Int64, action: String, goal: ServerState?
    ) -> (request: ServerTransition, reachedGoal: Bool)? {
        guard let own = history.lastIndex(where: { $0.job == job && $0.cause == action }) else { return nil }
        var reached = false
        for transition in history[(own + 1)...] {
            if ServerAction(rawValue: transition.cause) != nil { return (transition, reached) }
            if transition.to == goal { reached = true }
        }
        return nil
    }
}
