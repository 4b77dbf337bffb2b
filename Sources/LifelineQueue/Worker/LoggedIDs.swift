/// Job ids as a worker's log lines give them: in order, the first eight, and how many in all
/// past those, without spaces, so that a line naming a hundred jobs stays a line.
enum LoggedIDs {
    static func text(_ ids: [Int64]) -> String {
        let sorted = ids.sorted()
        let shown = sorted.prefix(8).map(String.init).joined(separator: ",")
        return sorted.count > 8 ? "\(shown),…(\(sorted.count))" : shown
    }
}
