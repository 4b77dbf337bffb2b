/// File paths taken apart as text, as NSString's path methods do, which trap on a path of one
/// character: a home (`LIFELINE_HOME=q`) or a database (`--db w`) a user may well name.
public enum PathText {
    /// The directory part: "" for a bare name (the working directory), "/" at the root.
    public static func directory(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(Substring(path))
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        return slash == trimmed.startIndex ? "/" : String(withoutTrailingSlashes(trimmed[..<slash]))
    }

    /// The last part: the file's or directory's own name ("/" for the root).
    public static func name(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(Substring(path))
        guard trimmed != "/", let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    private static func withoutTrailingSlashes(_ path: Substring) -> Substring {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return path
    }
}
