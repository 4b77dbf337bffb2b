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
        // RFC 3339 lets the 'T' and the 'Z' be lowercase; nothing else in a time is a letter.
        let text = text.uppercased()
        guard let date = (try? timeStyle.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)), date < latestTime,
            fieldsInRange(text)
        else { return nil }
        return date
    }

    /// Whether a time's date and clock, as written (`YYYY-MM-DDThh:mm:ss…`), name a real day
    /// and time: Foundation's parser carries a field past its range into the next, so that
    /// February 30 reads as March 2 and 25:00 as 01:00 the next day.
    private static func fieldsInRange(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(19))
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            return bytes[range].reduce(Int?.some(0)) { value, byte in
                guard let value, (0x30...0x39).contains(byte) else { return nil }
                return value * 10 + Int(byte - 0x30)
            }
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) && hour < 24 && minute < 60 && second < 60
    }

    /// The start of the year 10000.
    static let latestTime = Date(timeIntervalSince1970: 253_402_300_800)
}
