import Foundation

/// The one JSON dialect of Lifeline: snake_case field names chosen by each type, keys
/// sorted, times as ISO 8601 UTC with milliseconds.
public enum LifelineJSON {
    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatTime(date))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTime(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid time '\(text)'")
            }
            return date
        }
        return decoder
    }

    /// One line of JSON text for a value.
    public static func line<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }

    /// ISO 8601 UTC with milliseconds, rounded to the nearest one: the formatter truncates,
    /// and a time read back from text is often a hair below its millisecond (x.123 is
    /// x.12299…), so a time written, read and written again would otherwise drift.
    public static func formatTime(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var (seconds, fraction) = ms.quotientAndRemainder(dividingBy: 1000)
        if fraction < 0 { (seconds, fraction) = (seconds - 1, fraction + 1000) }
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - String(fraction).count) + String(fraction) + "Z"
    }

    /// Parses ISO 8601 UTC times, with or without fractional seconds.
    /// An ISO 8601 time in a year of four digits, as every time is written back: a later one
    /// would be written in a form other programs' ISO 8601 parsers refuse.
    public static func parseTime(_ text: String) -> Date? {
        guard let date = (try? timeStyle.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)), date < latestTime else { return nil }
        return date
    }

    /// The start of the year 10000.
    static let latestTime = Date(timeIntervalSince1970: 253_402_300_800)
}
