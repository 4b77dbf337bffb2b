import LifelineQueue
import LifelineRecovery

/// Said when a list filtered by a queue, server or kind comes back empty: a name that does not
/// exist is more likely a typo than a quiet queue, and the list alone cannot tell them apart.
/// A command that acts on one server says the same when it names none.
enum FilterHint {
    /// - Parameter kind: the kind asked for, and the kinds this lifeline knows.
    static func sayUnknown(
        queue: String?, server: String?, job: Int64? = nil, kind: (name: String, known: [String])? = nil, in opened: OpenQueue
    ) async throws {
        if let kind, !kind.known.contains(kind.name) { say("no job kind '\(kind.name)'", name: kind.name, known: kind.known, kind: "kinds") }
        if let job, try await opened.jobs.jobGet(job) == nil {
            Output.standardError.writeLine("lifeline: \(Job.missingText([job]))")
        }
        if let queue {
            let known = Stage.knownQueues(try await opened.jobs.queueList().map(\.name))
            if !known.contains(queue) { say("no queue '\(queue)' has had a job or a setting", name: queue, known: known, kind: "queues") }
        }
        if let server {
            let known = try await opened.servers.serverList().map(\.name)
            if !known.contains(server) { say("no server '\(server)'", name: server, known: known, kind: "servers") }
        }
    }

    /// Exit 4 for a server `name` that is not there, with the name it most likely misspells.
    /// A server removed (deleted, or its create failed) is said to be, with why and where its history is.
    static func noServer(_ name: String, in opened: OpenQueue, _ what: String? = nil) async -> CLIFailure {
        if what == nil, let last = try? await opened.servers.serverHistory(name).last, last.to == nil {
            return CLIFailure(.notFound, "no server '\(name)' now: removed at \(LifelineJSON.formatTime(last.at)) (\(last.cause); lifeline server history \(name))")
        }
        let what = what ?? "no server '\(name)'"
        // The list is only a help: a store that does not give it now leaves it out.
        guard let known = try? await opened.servers.serverList().map(\.name) else { return CLIFailure(.notFound, what) }
        return CLIFailure(.notFound, unknown(what, name: name, known: known, kind: "servers"))
    }

    private static func say(_ what: String, name: String, known: [String], kind: String) {
        Output.standardError.writeLine("lifeline: " + TerminalText.escaped(unknown(what, name: name, known: known, kind: kind)))
    }

    private static func unknown(_ what: String, name: String, known: [String], kind: String) -> String {
        if let question = EditDistance.didYouMean(name, among: known) { return "\(what); \(question)" }
        return "\(what); \(kind): \(known.isEmpty ? "none now" : known.joined(separator: ", "))"
    }
}
