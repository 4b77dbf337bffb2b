import LifelineQueue

extension ServerStore {
    /// What to say of a server `name` that is not there, the CLI and the API alike: one removed
    /// (deleted, or its create failed) is said to be, with why and where its history is; else
    /// the name it most likely misspells, or the servers there are. `what`, when given, is said
    /// instead of "no server 'NAME'", and the removal is not.
    public func missingText(_ name: String, _ what: String? = nil) async -> String {
        if what == nil, let last = try? await serverHistory(name).last, last.to == nil {
            return "no server '\(name)' now: removed at \(LifelineJSON.formatTime(last.at)) (\(last.cause); lifeline server history \(name))"
        }
        let what = what ?? "no server '\(name)'"
        // The list is only a help: a store that does not give it now leaves it out.
        guard let known = try? await serverList().map(\.name) else { return what }
        return EditDistance.hint(what, name: name, among: known, kind: "servers")
    }
}
