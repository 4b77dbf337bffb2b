import Foundation
import Hummingbird
import LifelineQueue

/// The query parameters the API reads, checked like the CLI's options.
struct QueryParameters {
    let request: Request

    /// Its value; ``QueryCheck`` has refused an empty one.
    func string(_ name: String) -> String? {
        request.uri.queryParameters.get(name)
    }

    /// A filter that is on or left out, like the CLI's flag: `false` would read as its
    /// opposite (jobs never retried), which no list offers.
    func flag(_ name: String) throws(APIError) -> Bool {
        switch string(name) {
        case nil: return false
        case "true": return true
        case let text?: throw .badRequest("\(name) takes true, not '\(text)'; leave it out for every job")
        }
    }

    func int(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// `since=D` (a duration, as `--since` takes): that long before now.
    func since() throws(APIError) -> Date? {
        guard let text = string("since") else { return nil }
        do {
            return Date().addingTimeInterval(-Double(try DurationText.parse(text).milliseconds) / 1000)
        } catch {
            throw .badRequest("since: \(error.message)")
        }
    }

    /// `type=` (repeatable), as `events --type` takes.
    func eventTypes() throws(APIError) -> Set<EventType> {
        var types = Set<EventType>()
        for text in request.uri.queryParameters.getAll("type") {
            guard let type = EventType(rawValue: text) else {
                throw .badRequest("unknown event type '\(text)'; types: \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            types.insert(type)
        }
        return types
    }

    func states() throws(APIError) -> Set<JobState> {
        var states = Set<JobState>()
        for text in request.uri.queryParameters.getAll("state") {
            guard let state = JobState(rawValue: text) else {
                throw .badRequest("unknown state '\(text)'; states: \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            states.insert(state)
        }
        return states
    }
}
