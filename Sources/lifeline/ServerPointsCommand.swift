import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct ServerPointsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "points", abstract: "List the recovery points of a server's machine, oldest first.",
        discussion: """
            Failover and test-failover start from the latest unless --recovery-point names one.

            The points come from this command's LIFELINE_INFRA (the simulated machines under \
            $LIFELINE_HOME/infra, or the command config's "points" program): give it the \
            workers' settings.

            Example:
              lifeline server points web-1 --json
            """
    )

    @Argument(help: "The server.")
    var name: String

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try ServerNames.check(name)
        let opened = try await store.openReader()
        guard let server = try await opened.servers.serverGet(name) else { throw await FilterHint.noServer(name, in: opened) }
        guard let points = try await RecoveryPointCheck.points(of: server, infraRoot: store.infraRoot) else {
            throw CLIFailure(.runtime, "this infrastructure does not list recovery points (the command config has no \"points\" program)")
        }
        let latest = points.last?.id
        try Output.standardOutput.writeList(points, json: json, empty: "machine \(server.machine) has no recovery points yet") { points in
            Table(headers: ["ID", "CREATED", "SIZE"], rows: points.map { point in
                [
                    point.id + (point.id == latest ? " (latest)" : ""), point.createdAt.map(LifelineJSON.formatTime) ?? "-",
                    point.bytes.map(SizeText.readable) ?? "-",
                ]
            })
        }
    }
}

/// A recovery point named at failover or test-failover must be one of the machine's.
enum RecoveryPointCheck {
    /// The machine's points, or nil when the infrastructure cannot list them. A machine the
    /// infrastructure has never held is one with none yet while its server is being created;
    /// after that, it means this command looks at other infrastructure than the workers'.
    static func points(of server: ServerInfo, infraRoot: URL) async throws -> [RecoveryPoint]? {
        do {
            return try await InfrastructureChoice.make(root: infraRoot).recoveryPoints(machine: server.machine)
        } catch let unknown as UnknownMachine {
            guard server.state == .creating else {
                throw CLIFailure(.notFound, "\(unknown), which is under this command's LIFELINE_HOME: give it the workers' LIFELINE_HOME (and LIFELINE_INFRA)")
            }
            return []
        }
    }

    /// Refuses (exit 4) a point the machine does not have, listing those it has.
    static func check(_ point: String, for action: ServerAction, server: ServerInfo, infraRoot: URL) async throws {
        if let refusal = try await refusal(point, for: action, server: server, infraRoot: infraRoot) { throw CLIFailure(.notFound, refusal) }
    }

    /// Why `point` cannot be used (the machine does not have it, or this command cannot see the
    /// machine's points), or nil. An action the server does not take now, and a machine with
    /// none listed yet, are left to the lifecycle: the state is what the operator must hear of first.
    static func refusal(_ point: String, for action: ServerAction, server: ServerInfo, infraRoot: URL) async throws -> String? {
        guard server.allowedActions.contains(action) else { return nil }
        let points: [RecoveryPoint]?
        do {
            points = try await self.points(of: server, infraRoot: infraRoot)
        } catch let failure as CLIFailure {
            return "cannot check recovery point '\(point)': \(failure.description)"
        }
        guard let points, !points.isEmpty, !points.contains(where: { $0.id == point }) else { return nil }
        return "machine \(server.machine) has no recovery point '\(point)'; it has: "
            + points.map(\.id).joined(separator: ", ") + " (lifeline server points \(server.name))"
    }
}
