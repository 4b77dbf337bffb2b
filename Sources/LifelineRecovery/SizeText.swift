import LifelineQueue

/// Sizes as people type them: `64MiB`, `1GiB`, `512KiB`, `1000000B`, also `MB`/`GB`; a number needs its unit.
public enum SizeText {
    public static func parse(_ text: String) throws(JobInputError) -> Int64 {
        // The units past the limit are sizes too, to be refused as too large, not as words.
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("PiB", 1 << 50), ("EiB", 1 << 60),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("PB", 1_000_000_000_000_000),
            ("EB", 1_000_000_000_000_000_000), ("B", 1),
        ]
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        if !digits.isEmpty, unit.isEmpty {
            throw JobInputError("invalid size '\(text)': a size needs a unit (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB), e.g. 64MiB")
        }
        guard !digits.isEmpty, let factor = units.first(where: { $0.0 == unit })?.1 else {
            throw JobInputError("invalid size '\(text)': use e.g. 64MiB, 1GiB")
        }
        // A number longer than any size is too large, as a shorter one past the limit is.
        let value = digits.drop { $0 == "0" }.count <= 15 ? Int64(digits) : nil
        let (bytes, overflow) = value?.multipliedReportingOverflow(by: factor) ?? (0, true)
        guard !overflow, bytes <= 1 << 44 else { throw JobInputError("size '\(text)' is too large: at most 16TiB") }
        return bytes
    }

    /// A size for people, to a tenth of its largest binary unit: "1.5 GiB", "512 B".
    public static func readable(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A size as ``parse(_:)`` takes it, in the largest binary unit that divides it.
    public static func format(_ bytes: Int64) -> String {
        for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes != 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)B"
    }
}
