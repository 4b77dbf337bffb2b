extension ServerInfo {
    /// Why each action the server does not take now would be refused, in the order of
    /// ``ServerAction/allCases``: `server show`'s "why not", and `why_not` in its JSON.
    public var refusals: [(action: ServerAction, reason: String)] {
        let allowed = allowedActions
        return ServerAction.allCases.filter { !allowed.contains($0) }.map { ($0, refusal(of: $0)) }
    }

    /// The operation under way, as `job 12 (finalize)`: nil while the server rests.
    public var operation: String? {
        guard !state.isResting, let job = lifecycle.currentJob else { return nil }
        return "job \(job) (\(lifecycle.currentStage?.rawValue ?? "its stage"))"
    }

    /// The states that take the action, and while an operation is under way, that it runs:
    /// the server reaches its next state when it ends, which may take the action or not.
    private func refusal(of action: ServerAction) -> String {
        if state.allowedActions.contains(action), let holder = workloadHolder {
            return "server \(holder.name) holds machine \(machine)'s workload (in \(holder.state.rawValue))"
        }
        let states = ServerState.allCases.filter { $0.allowedActions.contains(action) }.map(\.rawValue)
        let only = "only in " + (states.count > 1 ? states.dropLast().joined(separator: ", ") + " or " + states.last! : states.joined())
        return operation.map { "\(only), and the server is at work on \($0)" } ?? only
    }
}
