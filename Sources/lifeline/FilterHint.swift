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

    /// Exit 4 for a server `name` that is not there (``ServerStore/missingText(_:_:)``).
    static func noServer(_ name: String, in opened: OpenQueue, _ what: String? = nil) async -> CLIFailure {
        CLIFailure(.notFound, await opened.servers.missingText(name, what))
    }

    private static func say(_ what: String, name: String, known: [String], kind: String) {
        Output.standardError.writeLine("lifeline: " + TerminalText.escaped(EditDistance.hint(what, name: name, among: known, kind: kind)))
    }
}
