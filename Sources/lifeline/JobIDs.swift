import ArgumentParser

/// Job ids as commands take them.
enum JobIDs {
    /// Refuses an id that no job can have (`jobs show -- -1`).
    static func check(_ ids: [Int64]) throws {
        if let bad = ids.first(where: { $0 < 1 }) { throw ValidationError("a job id is a positive whole number, not \(bad)") }
    }

    /// Each id once, in the order given: `jobs cancel 1 1` reports job 1 once.
    static func distinct(_ ids: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        return ids.filter { seen.insert($0).inserted }
    }
}
