import Foundation
import LifelineQueue
import LifelineRecovery

/// The infrastructure stages act on, chosen by the environment:
/// `LIFELINE_INFRA=simulated` (the default) with `LIFELINE_SIM_THROUGHPUT` and
/// `LIFELINE_SIM_FAULTS`, or `LIFELINE_INFRA=command` with the stage programs named in
/// `$LIFELINE_HOME/infra/commands.json` (or `LIFELINE_INFRA_COMMANDS`).
enum InfrastructureChoice {
    private static let kinds = ["simulated", "command"]

    /// Refuses a LIFELINE_INFRA that names no infrastructure, for a command that only enqueues
    /// stages: a worker would refuse to start with it, and the server would wait for ever.
    static func checkKind() throws {
        guard let kind = Environment.value("LIFELINE_INFRA"), !kinds.contains(kind) else { return }
        throw refusal(kind)
    }

    /// Whether stages act on the simulated infrastructure, under this home's `infra/`.
    static var isSimulated: Bool {
        (Environment.value("LIFELINE_INFRA") ?? "simulated") == "simulated"
    }

    private static func refusal(_ kind: String) -> CLIFailure {
        CLIFailure(.invalidInput, "LIFELINE_INFRA must be 'simulated' or 'command', not '\(kind)'")
    }

    static func make(root: URL) throws -> any Infrastructure {
        // Each variable read alone: a copy of the whole environment was a quarter of a pool's
        // runner process's start (callgrind: 537,000 of 2.0 million instructions).
        switch Environment.value("LIFELINE_INFRA") ?? "simulated" {
        case "simulated":
            let throughput = try named("LIFELINE_SIM_THROUGHPUT") { try Environment.value("LIFELINE_SIM_THROUGHPUT").map(SizeText.parse) }
            let faults = try named("LIFELINE_SIM_FAULTS") { try FaultPlan.parse(Environment.value("LIFELINE_SIM_FAULTS") ?? "") }
            return SimulatedInfrastructure(root: root, bytesPerSecond: throughput, faults: faults)
        case "command":
            let path = Environment.value("LIFELINE_INFRA_COMMANDS") ?? root.appendingPathComponent("commands.json").path
            return try CommandInfrastructure(configPath: path)
        case let other:
            throw refusal(other)
        }
    }

    /// A setting read from the variable `name`, whose refusal names it.
    private static func named<Value>(_ name: String, _ read: () throws -> Value) throws -> Value {
        do {
            return try read()
        } catch let error as JobInputError {
            throw CLIFailure(.invalidInput, "\(name): \(error.message)")
        }
    }
}
