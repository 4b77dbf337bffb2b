import LifelineQueue
import Testing

@Suite("A path taken apart")
struct PathTextTests {
    @Test("its directory and its name, as NSString's path methods give them, one-character paths included", arguments: [
        ("w", "", "w"), ("q/lifeline.db", "q", "lifeline.db"), ("/a", "/", "a"), ("/", "/", "/"), ("a/b/", "a", "b"),
        ("/srv/x/queue/lifeline.db", "/srv/x/queue", "lifeline.db"), ("a//b", "a", "b"), ("./t", ".", "t"), ("", "", ""),
    ])
    func parts(path: String, directory: String, name: String) {
        #expect(PathText.directory(of: path) == directory)
        #expect(PathText.name(of: path) == name)
    }
}
