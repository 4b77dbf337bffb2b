import Foundation
import LifelineQueue
import PropertyBased
import Testing

@Suite("JSON documents")
struct JSONValueTests {
    @Test("strings with quotes, backslashes, control characters and other scripts read back exactly, also nested")
    func strings() async throws {
        await propertyCheck(count: 500, input: Gen.unicodeScalar(in: "\u{0}"..."\u{3FF}").array(of: 0...40)) { scalars in
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars + ["\"", "€", "\u{1F}"])
            let document = JSONValue.object(["s": .string(text)])
            // Nested as a string inside another document, as a batch of events carries its data.
            let outer = JSONValue.array([.string(document.canonicalText)])
            let parsed = try? JSONValue(parsing: outer.canonicalText)
            let inner = parsed?.arrayValue?.first?.stringValue
            #expect(inner.flatMap { try? JSONValue(parsing: $0) } == document)
            // Any JSON reader agrees.
            let foundation = try? JSONSerialization.jsonObject(with: Data(document.canonicalText.utf8)) as? [String: String]
            #expect(foundation?["s"] == text)
        }
    }

    @Test("escapes are the short ones where JSON has them, else \\u00XX")
    func escapes() {
        #expect(JSONValue.string("a\"b\\c\nd\re\tf\u{1}g\u{1F}").canonicalText == #""a\"b\\c\nd\re\tf\u0001g\u001f""#)
    }
}
