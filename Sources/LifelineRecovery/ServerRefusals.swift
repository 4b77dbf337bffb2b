extension ServerInfo {
    /// Why each action the server does not take now would be refused, in the order of
    /// ``ServerAction/allCases``: `server show`'s "why not", and `why_not` in its JSON.
    public var refusals: [(action: ServerAction, reason: String)] {
        let allowed = allowedActions
        return ServerAction.allCases.filter { !allowed.contains($0) }.map { ($0, refusal(of: $0)) }
    }

    private func refusal(of action: ServerAction) -> String {
        if !state.isResting, let job = lifecycle.currentJob {
            return "waits until job \(job) (\(lifecycle.currentStage?.rawValue ?? "its stage")) ends"
        }
        if state.allowedActions.contains(action), let holder = workloadHolder {
            return "waits until server \(holder.name) of machine \(machine) gives back its workload (it is in \(holder.state.rawValue))"
        }
        let states = ServerState.allCases.filter { $0.allowedActions.contains(action) }.map(\.rawValue)
        return "only in " + (states.count > 1 ? states.dropLast().joined(separator: ", ") + " or " + states.last! : states.joined())
    }
}
