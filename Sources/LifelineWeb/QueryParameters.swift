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
    /// `name=true`, or absent; `without` says what leaving it out gives.
    func flag(_ name: String, without: String) throws(APIError) -> Bool {
        switch string(name) {
        case nil: return false
        case "true": return true
        case let text?: throw .badRequest("\(name) takes true, not '\(text)'; leave it out for \(without)")
        }
    }

    func int(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// `since=D` (a duration, as `--since` takes): that long before `now`, the store's.
    func since(now: Date) throws(APIError) -> Date? {
        guard let text = string("since") else { return nil }
        do {
            return now.adding(.zero - (try DurationText.parse(text)))
        } catch {
            throw .badRequest("since: \(error.message)")
        }
    }

    /// A repeatable parameter's values (`state=`, `type=`), each one of `Value`'s cases, as the
    /// CLI's repeatable options take them; `what` names them in a refusal ("state").
    func values<Value: RawRepresentable<String> & CaseIterable & Hashable>(_ name: String, what: String) throws(APIError) -> Set<Value> {
        var values = Set<Value>()
        for text in request.uri.queryParameters.getAll(name) {
            guard let value = Value(rawValue: text) else {
                throw .badRequest("unknown \(what) '\(text)'; \(what)s: \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            values.insert(value)
        }
        return values
    }
}
