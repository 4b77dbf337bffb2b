import Hummingbird

/// The dashboard: one page, its script and its style, all served by the binary (nothing is
/// fetched from elsewhere, which the Content-Security-Policy enforces). The script builds
/// every element with `textContent`, never markup, so user data always shows as text.
enum Dashboard {
    static func add(to router: Router<BasicRequestContext>) {
        router.read("/") { _, _ in asset(page, "text/html") }
        router.read("app.js") { _, _ in asset(script, "text/javascript") }
        router.read("app.css") { _, _ in asset(style, "text/css") }
    }

    private static func asset(_ text: String, _ type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "\(type); charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }
}
