/// Decoding errors of a JSON document (a job's args, a config file) in the words its author
/// would fix them with.
public enum DecodingErrorText {
    /// The decoding error as the user would fix it: which field, what it must be, what it is.
    /// `document` names the whole, for an error about it rather than a field ("args").
    public static func describe(_ error: any Error, in json: JSONValue, document: String) -> String {
        switch error {
        case let unknown as UnknownField:
            if let meant = unknown.standsFor { return "unknown field '\(path(unknown.codingPath))'; did you mean '\(meant)'?" }
            let known = unknown.known.isEmpty ? "" : " (fields: \(unknown.known.joined(separator: ", ")))"
            return "unknown field '\(path(unknown.codingPath))'\(known)"
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(path(context.codingPath + [key]))'"
        case DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty:
            return "\(document) must be a JSON object, not \(kind(of: json))"
        case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
            let found = value(at: context.codingPath, in: json).map { ", not \(kind(of: $0))" } ?? ""
            return "field '\(path(context.codingPath))' must be \(describe(type))\(found)"
        case DecodingError.dataCorrupted(let context):
            return "field '\(path(context.codingPath))': \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func value(at keys: [any CodingKey], in args: JSONValue) -> JSONValue? {
        var value: JSONValue? = args
        for key in keys {
            if let index = key.intValue, let array = value?.arrayValue {
                value = index < array.count ? array[index] : nil
            } else {
                value = value?[key.stringValue]
            }
        }
        return value
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "true or false"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of strings"
        default:
            // Decoders name the container they expected: Array<Any>, Dictionary<String, Any>.
            "\(type)".hasPrefix("Array") ? "an array" : "\(type)".hasPrefix("Dictionary") ? "an object" : "a valid value"
        }
    }
}
