import LifelineQueue
import Testing

@Suite("Which name a misspelt one stands for")
struct EditDistanceTests {
    @Test("the one name within two edits and half the word, or the one it begins (the nearest of several that do), case aside; none when two are as near", arguments: [
        ("nopp", ["noop", "sleep", "exec"], "noop"),
        ("exce", ["noop", "exec"], "exec"),
        ("ENQUEUE", ["enqueue", "events"], "enqueue"),
        ("enq", ["enqueue", "events"], "enqueue"),
        ("web1", ["web-1", "db-1"], "web-1"),
        ("bb", ["a", "b"], "b"),
        ("web-3", ["web-1", "web-2"], nil),
        ("web-10", ["web-1", "web-11"], nil),
        ("se", ["server", "serve"], nil),
        ("arg", ["args", "args-file"], "args"),
        ("serv", ["server", "serve"], nil),
        ("args", ["args-file", "args-files"], nil),
        ("recovery", ["recovery.backup", "recovery.vm"], nil),
        ("zz", ["a", "b"], nil),
        ("x", ["web-1"], nil),
        ("", ["a"], nil),
        ("nightly", [], nil),
        ("ünïcode", ["unicode"], "unicode"),
        ("üü", ["uu"], nil),
    ] as [(String, [String], String?)])
    func nearest(word: String, names: [String], expected: String?) {
        #expect(EditDistance.nearest(to: word, among: names) == expected)
    }
}
