/// Durations as people type them: `250ms`, `30s`, `5m`, `2h`, or a sum such as `1h30m`.
public enum DurationText {
    /// The longest duration accepted anywhere: a year.
    public static let maximum = Duration.seconds(365 * 24 * 3600)

    public static func parse(_ text: String) throws(JobInputError) -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var rest = Substring(text)
        var totalMs: Int64 = 0
        guard !rest.isEmpty else { throw JobInputError("empty duration: use e.g. 500ms, 30s, 5m, 2h, 1d") }
        // Zero needs no unit.
        if text == "0" { return .zero }
        guard !text.hasPrefix("-") else { throw JobInputError("negative duration '\(text)': durations are 0 or more, e.g. 500ms, 30s, 5m, 2h, 1d") }
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty else { throw JobInputError("invalid duration '\(text)': use e.g. 500ms, 30s, 5m, 2h, 1d") }
            // Thirteen digits of the smallest unit are 31 years already.
            guard digits.drop(while: { $0 == "0" }).count <= 12, let value = Int64(digits) else {
                throw JobInputError("duration '\(text)' is longer than a year")
            }
            rest = rest.dropFirst(digits.count)
            // "ms" is tried before "m", so "5ms" is milliseconds and "5m30s" minutes then seconds.
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else {
                if rest.isEmpty { throw JobInputError("invalid duration '\(text)': a number needs a unit (ms, s, m, h, d)") }
                if rest.hasPrefix(".") || rest.hasPrefix(",") {
                    throw JobInputError("invalid duration '\(text)': whole numbers only; write a sum such as 1h30m or 1500ms")
                }
                throw JobInputError("invalid duration '\(text)': unknown unit '\(rest.prefix { !$0.isNumber })'; use ms, s, m, h or d")
            }
            rest = rest.dropFirst(unit.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            let (sum, overflowed) = totalMs.addingReportingOverflow(product)
            guard !overflow, !overflowed else { throw JobInputError("duration '\(text)' is longer than a year") }
            totalMs = sum
            guard totalMs <= maximum.milliseconds else {
                throw JobInputError("duration '\(text)' is longer than a year")
            }
        }
        return .milliseconds(totalMs)
    }

    /// The shortest text that parses back to the same duration, e.g. `1h30m`, `250ms`.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.milliseconds
        if ms == 0 { return "0s" }
        var text = ms < 0 ? "-" : ""
        ms = abs(ms)
        for (unit, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= factor {
            text += "\(ms / factor)\(unit)"
            ms %= factor
        }
        return text
    }
}
