import Testing

@testable import lifeline

@Suite("a URL's password on the command line")
struct ArgumentSecretsTests {
    @Test("is found after USER: and before the authority's @, in every form an argument takes", arguments: [
        ("postgres://lifeline:hunter2@db.internal:5432/queue", "hunter2"),
        ("--db=postgresql://u:p%40ss:w@h/d", "p%40ss:w"),
        ("postgres://u:x@y@h/d", "x@y"),
        ("postgres://u:pw@h/d?application_name=a@b", "pw"),
        ("postgres://u:pw@h", "pw"),
    ])
    func found(_ argument: String, _ password: String) throws {
        let bytes = Array(argument.utf8)
        let range = try #require(ArgumentSecrets.passwordRange(in: bytes))
        #expect(String(decoding: bytes[range], as: UTF8.self) == password)
    }

    @Test("is not there: no URL, no password, an empty one, or an @ past the authority", arguments: [
        "/tmp/queue/lifeline.db", "postgres://lifeline@h/d", "postgres://u:@h/d", "postgres://h/d?user=a:b@c", "--db", "", "a:b@c",
    ])
    func absent(_ argument: String) {
        #expect(ArgumentSecrets.passwordRange(in: Array(argument.utf8)) == nil)
    }
}
