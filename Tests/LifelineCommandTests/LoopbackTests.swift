import Testing

@testable import lifeline

@Suite("What serve takes for loopback")
struct LoopbackTests {
    @Test("addresses of 127.0.0.0/8 and ::1, and localhost, are loopback; a name that only begins with 127 is not", arguments: [
        ("localhost", true), ("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("0:0:0:0:0:0:0:1", true),
        ("127.foo.example.com", false), ("127.0.0.1.nip.io", false), ("128.0.0.1", false), ("0.0.0.0", false), ("::", false),
        ("10.0.0.1", false), ("::2", false), ("example.com", false), ("", false),
    ])
    func loopback(host: String, expected: Bool) {
        #expect(ServeCommand.isLoopback(host) == expected)
    }
}
