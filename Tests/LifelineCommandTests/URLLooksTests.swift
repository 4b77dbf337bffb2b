import Testing

@testable import lifeline

@Suite("a --db value told from a file path")
struct URLLooksTests {
    @Test("a scheme is a letter, then letters, digits, '+', '.' or '-', before '://'", arguments: [
        ("mysql://x", "mysql"), ("git+ssh://h/r", "git+ssh"), ("a.b-c://", "a.b-c"), ("postgres://u@h/d", "postgres"),
        ("1http://x", nil), ("my sql://x", nil), ("://x", nil), ("mysql:/x", nil), ("queue/a:b.db", nil), ("é://x", nil),
    ] as [(String, String?)])
    func scheme(_ text: String, _ scheme: String?) {
        #expect(SelectedStore.scheme(of: text).map(String.init) == scheme)
    }

    @Test("a mistyped URL starts like one, or holds USER:PASSWORD@HOST", arguments: [
        ("postgres:/u@h/d", true), (" PostgreSQL://u:p@h/d", true), ("u:pw@host", true), ("x:y@z/q.db", true), ("a:@h", true),
        ("queue/a:b.db", false), ("a:b/c@d", false), ("a:b@/c", false), ("/:p@h", false), ("@:p@h", false), ("a: b@h", false),
        ("a:b@", false), ("lifeline.db", false),
    ])
    func mistyped(_ text: String, _ looks: Bool) {
        #expect(SelectedStore.looksLikePostgres(text) == looks)
    }
}
