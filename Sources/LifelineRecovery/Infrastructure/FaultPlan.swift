import Foundation
import LifelineQueue

/// Failures the simulated infrastructure injects, from `LIFELINE_SIM_FAULTS`: rules separated
/// by commas, each `STAGE:fail-first=K` (the stage's first K runs for each server fail midway)
/// or `STAGE:fail-chance=P` (each chunk of a copy, or each run of another stage, fails with
/// probability P). Example: `finalize:fail-first=3,backup:fail-chance=0.02`.
public struct FaultPlan: Sendable, Hashable {
    public var failFirst: [Stage: Int] = [:]
    public var failChance: [Stage: Double] = [:]

    public init() {}

    public static func parse(_ text: String) throws(JobInputError) -> FaultPlan {
        var plan = FaultPlan()
        for rule in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !rule.isEmpty {
            let parts = rule.split(separator: ":", maxSplits: 1).map(String.init)
            let setting = parts.count == 2 ? parts[1].split(separator: "=", maxSplits: 1).map(String.init) : []
            guard parts.count == 2, setting.count == 2 else {
                throw JobInputError("invalid fault rule '\(rule)': use STAGE:fail-first=K or STAGE:fail-chance=P")
            }
            guard let stage = Stage(rawValue: parts[0]) else {
                throw JobInputError("invalid fault rule '\(rule)': no stage is named '\(parts[0])'; stages: \(Stage.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            switch setting[0] {
            case "fail-first":
                guard let count = Int(setting[1]), count >= 0 else { throw JobInputError("fail-first needs a whole number in '\(rule)'") }
                plan.failFirst[stage] = count
            case "fail-chance":
                guard let chance = Double(setting[1]), (0...1).contains(chance) else {
                    throw JobInputError("fail-chance needs a number from 0 to 1 in '\(rule)'")
                }
                plan.failChance[stage] = chance
            default:
                throw JobInputError("unknown fault '\(setting[0])' in '\(rule)': use fail-first or fail-chance")
            }
        }
        return plan
    }
}

struct InjectedFault: Error, CustomStringConvertible {
    var stage: Stage
    var why: String
    var description: String { "injected fault in \(stage.rawValue): \(why)" }
}
