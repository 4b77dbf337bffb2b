/// How far apart two names are, for "did you mean" answers to a misspelt one.
public enum EditDistance {
    /// Levenshtein distance, counting a swap of neighbours as one edit.
    public static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1) }
            }
        }
        return rows[a.count][b.count]
    }

    /// The name among `names` that `word` most likely misspells: the one closest to it within
    /// two edits and half its length, case aside, or the one name it begins; nil when none is
    /// near, or when two are as near (`web-3` between `web-1` and `web-2` names neither: a
    /// suggestion points at a real thing, which must be the one meant).
    public static func nearest(to word: String, among names: some Sequence<String>) -> String? {
        let typed = word.lowercased()
        let names = Array(names)
        let beginning = typed.isEmpty ? [] : names.filter { $0.lowercased().hasPrefix(typed) }
        if beginning.count == 1 { return beginning[0] }
        // Begun by several, it is the nearest of them if the others are much farther (`--arg`:
        // `--args`, not `--args-file`; `serv` is as much `server` as `serve`).
        let scored = (beginning.isEmpty ? names : beginning).map { ($0, between(typed, $0.lowercased())) }
        let margin = beginning.isEmpty ? 1 : 3
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 * 2 <= word.count,
              scored.allSatisfy({ $0.0 == best.0 || $0.1 >= best.1 + margin })
        else { return nil }
        return best.0
    }

    /// `what`, with the name that `name` most likely misspells, else every known name
    /// (`kind`: what they are, `servers`).
    public static func hint(_ what: String, name: String, among known: [String], kind: String) -> String {
        if let question = didYouMean(name, among: known) { return "\(what); \(question)" }
        return "\(what); \(kind): \(known.isEmpty ? "none now" : known.joined(separator: ", "))"
    }

    /// "did you mean 'NAME'?" for the name `word` most likely misspells (see
    /// ``nearest(to:among:)``), or nil: every refusal of a misspelt name asks the same way.
    public static func didYouMean(_ word: String, among names: some Sequence<String>) -> String? {
        nearest(to: word, among: names).map { "did you mean '\($0)'?" }
    }
}
