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

    @Test("strings read back with every escape JSON has, runs of plain bytes around them, and bad ones refused")
    func parsedStrings() throws {
        #expect(try JSONValue(parsing: #"["plain", "a\"b\\c\/d\b\f\n\r\t", "\u00e9t\u00E9 \ud83d\ude00!", "", "\"", "é€"]"#) == .array([
            "plain", "a\"b\\c/d\u{8}\u{C}\n\r\t", "été 😀!", "", "\"", "é€",
        ]))
        for bad in [#""\x""#, #""\ud83d""#, #""\u12""#, "\"a\u{1}b\"", #""open"#] {
            #expect(throws: JSONValueError.self, "\(bad)") { try JSONValue(parsing: bad) }
        }
        #expect(throws: JSONValueError.self) { try JSONValue(parsing: Data([0x22, 0xFF, 0x22])) }
    }

    @Test("integers are 64-bit: the largest and smallest read back exactly, a larger one is refused rather than rounded")
    func integerRange() throws {
        #expect(try JSONValue(parsing: "[9223372036854775807, -9223372036854775808, 1e30]") == [.int(.max), .int(.min), .double(1e30)])
        for text in ["9223372036854775808", "-9223372036854775809", #"{"n": 99999999999999999999}"#] {
            #expect(throws: JSONValueError.self, "\(text)") { try JSONValue(parsing: text) }
        }
        let error = try #require(throws: JSONValueError.self) { try JSONValue(parsing: #"{"n": 9223372036854775808}"#) }
        #expect(error.description == "invalid JSON at line 1, column 7: the integer 9223372036854775808 does not fit in 64 bits; pass it as a string")
    }

    @Test("a number too small for a double is refused rather than read back as 0; zero written any way, and the smallest doubles, are kept")
    func tinyNumbers() throws {
        #expect(try JSONValue(parsing: "[0.0, -0e5, 0.000e-999, 5e-324, 1e-300]") == [.double(0), .double(-0.0), .double(0), .double(.leastNonzeroMagnitude), .double(1e-300)])
        let error = try #require(throws: JSONValueError.self) { try JSONValue(parsing: #"{"n": 0.1e-400}"#) }
        #expect(error.description == "invalid JSON at line 1, column 7: the number 0.1e-400 is too small: it would read back as 0")
        #expect(throws: JSONValueError.self) { try JSONValue(parsing: "-1e-400") }
    }

    @Test("a field named twice in one object is refused where the second one starts, however it is written; one name in different objects is not")
    func duplicateFields() throws {
        #expect(throws: JSONValueError.syntax(line: 1, column: 10, message: "field 'a' appears twice in one object")) {
            try JSONValue(parsing: #"{"a": 1, "a": 2}"#)
        }
        #expect(throws: JSONValueError.syntax(line: 2, column: 2, message: "field 'a' appears twice in one object")) {
            try JSONValue(parsing: "{\"b\": {\"a\": 1,\n \"\\u0061\": 2}}")
        }
        #expect(try JSONValue(parsing: #"{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}"#) == ["a": ["a": 1], "b": [["a": 2], ["a": 3]]])
        // One name spelt two ways in Unicode is one key of a Swift dictionary: refused, and said.
        #expect(throws: JSONValueError.syntax(line: 1, column: 15, message: "field 'e\u{301}' appears twice in one object, spelt two ways in Unicode (composed and decomposed); use one")) {
            try JSONValue(parsing: #"{"\u00e9": 1, "e\u0301": 2}"#)
        }
    }

    @Test("strings and field names are equal byte for byte, not as Swift's strings are, which takes two Unicode spellings of one text for one")
    func byteEquality() throws {
        #expect(JSONValue.string("caf\u{e9}") != .string("cafe\u{301}"))
        #expect(JSONValue.object(["\u{e9}": 1]) != .object(["e\u{301}": 1]))
        #expect(JSONValue.object(["\u{e9}": ["x", 1]]) == .object(["\u{e9}": ["x", 1]]))
        #expect(!JSONValue.string("\u{e9}").isSameText(as: .string("e\u{301}")))
    }

    @Test("a strict decoding names the first field its type does not have, at any depth, with the fields it has there; listed keys, optional fields and nulls are its own")
    func strictDecoding() throws {
        struct Options: Codable {
            var depth: Int?
            var tags: [String: String]?
        }
        enum Source: Codable {
            case copy(from: String)
        }
        struct Args: Codable {
            var name: String
            var options: Options?
            var list: [Options]?
            var source: Source?
            var fallback: Fallback?
        }
        /// Options that fall back to none when they do not decode.
        struct Fallback: Codable {
            var options: Options?

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                options = try? container.decode(Options.self, forKey: .options)
            }
        }
        func unknown(_ text: String) throws -> String? {
            let value = try JSONValue(parsing: text)
            guard case .failure(let error) = Result(catching: { try value.decodeStrictly(Args.self) }) else { return nil }
            guard let field = error as? UnknownField else { throw error }
            let path = field.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return "\(path) (\(field.known.joined(separator: ", ")))"
        }
        #expect(try unknown(#"{"name": "a"}"#) == nil)
        // A required field missing beside one two edits from it: that one is the field, misspelt.
        #expect(try unknown(#"{"nmae": "a"}"#) == "nmae (name)")
        #expect(throws: DecodingError.self, "a field far from the missing one is not taken for it") { try unknown(#"{"zz": 1}"#) }
        #expect(try unknown(#"{"name": "a", "options": null, "list": []}"#) == nil)
        #expect(try unknown(#"{"name": "a", "options": {"depth": 2, "tags": {"x": "1", "y": "2"}}, "list": [{}]}"#) == nil)
        #expect(try unknown(#"{"name": "a", "zz": 1, "nmae": "b"}"#) == "nmae (fallback, list, name, options, source)")
        #expect(try unknown(#"{"name": "a", "options": {"dpeth": 2}}"#) == "options.dpeth (depth, tags)")
        #expect(try unknown(#"{"name": "a", "list": [{}, {"tags": {}, "x": null}]}"#) == "list.[1].x (depth, tags)")
        // Elements in their order, not their numbers' text.
        let eleven = (0...10).map { $0 == 2 ? #"{"x": 1}"# : $0 == 10 ? #"{"y": 1}"# : "{}" }.joined(separator: ", ")
        #expect(try unknown(#"{"name": "a", "list": ["# + eleven + "]}") == "list.[2].x (depth, tags)")
        // An enum's case is a field the enum has; a second field beside it is not.
        #expect(try unknown(#"{"name": "a", "source": {"copy": {"from": "x"}}}"#) == nil)
        #expect(try unknown(#"{"name": "a", "source": {"copy": {"from": "x"}, "typo": 1}}"#) == "source.typo (copy)")
        // A value that failed and was replaced says nothing of its fields.
        #expect(try unknown(#"{"name": "a", "fallback": {"options": {"depth": "x", "tags": {}}}}"#) == nil)
        #expect(try unknown(#"{"name": "a", "fallback": {"options": {"depth": 1, "tgas": {}}}}"#) == "fallback.options.tgas (depth, tags)")
        // A type that misses a field it needs still says so first, unless what stands there is
        // that field misspelt (above).
        #expect(throws: DecodingError.self) { try JSONValue(parsing: #"{"title": "b"}"#).decodeStrictly(Args.self) }
        // Decoded leniently, as at every run, the same document is fine.
        #expect(try JSONValue(parsing: #"{"name": "a", "nmae": "b"}"#).decode(Args.self).name == "a")
    }

    @Test("the events' data written field by field is the canonical text of the same object: integers of any size, strings with escapes")
    func eventData() async {
        await propertyCheck(count: 300, input: Gen.int64(), Gen.unicodeScalar(in: "\u{0}"..."\u{3FF}").array(of: 0...20)) { number, scalars in
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            let object = JSONValue.object(["attempt": .int(number), "kind": .string(text), "worker": .string("w\"" + text)])
            var startedData = JobEvent.StartedData(worker: "w\"" + text)
            #expect(startedData.text(attempt: Int(number), kind: text) == object.canonicalText)
            // A second kind in the same claim, and the first again, each with its own part.
            let other = JSONValue.object(["attempt": .int(1), "kind": .string(text + "2"), "worker": .string("w\"" + text)])
            #expect(startedData.text(attempt: 1, kind: text + "2") == other.canonicalText)
            #expect(startedData.text(attempt: Int(number), kind: text) == object.canonicalText)
            let job = NewJob(kind: text, args: .object([:]), queue: "q\\" + text)
            #expect(job.enqueuedEventData(state: .scheduled) == JSONValue.object([
                "kind": .string(text), "queue": .string("q\\" + text), "state": .string("scheduled"),
            ]).canonicalText)
        }
        for number: Int64 in [0, 1, -1, 9, 10, -10, 1234567890, .max, .min] {
            #expect(JSONValue.int(number).canonicalText == String(number))
        }
        for attempt in [0, 1, 7, 10, 12345] {
            #expect(OutcomeChange.completedData(attempt: attempt) == JSONValue.object(["attempt": .int(Int64(attempt))]).canonicalText)
        }
    }

    @Test("escapes are the short ones where JSON has them, else \\u00XX")
    func escapes() {
        #expect(JSONValue.string("a\"b\\c\nd\re\tf\u{1}g\u{1F}").canonicalText == #""a\"b\\c\nd\re\tf\u0001g\u001f""#)
    }

    @Test("typed values decode from a document as JSONDecoder decodes them from its text: the same value, or the same error at the same path")
    func typedDecoding() throws {
        let documents = [
            #"{}"#, #"[]"#, #""x""#, "3", "null", #"{"ms": 5}"#, #"{"ms": -1}"#, #"{"ms": 1.5}"#, #"{"ms": 2.0}"#,
            #"{"ms": "5"}"#, #"{"ms": null}"#, #"{"ms": 9223372036854775807}"#, #"{"ms": 1e30}"#, #"{"argv": ["a", "b"]}"#,
            #"{"argv": "ls"}"#, #"{"argv": [1]}"#, #"{"argv": ["a", null]}"#, #"{"argv": []}"#,
            #"{"argv": ["a"], "env": {"A": "1"}, "cwd": "/"}"#, #"{"argv": ["a"], "env": {"A": 1}}"#, #"{"argv": ["a"], "env": []}"#,
            #"{"fail_times": 3, "extra": {"deep": [1, 2]}}"#, #"{"flag": true, "ratio": 0.5, "small": 255, "mode": "fast","#
                + #" "nested": {"list": [1, 2, 3]}, "table": {"a": [1], "b": []}, "any": {"x": [null, 1.5, "y"]}}"#,
            #"{"flag": 1, "ratio": 1, "small": 256, "mode": "fast", "nested": {"list": [1]}, "table": {}, "any": null}"#,
            #"{"flag": false, "ratio": 2, "small": 0, "mode": "slow", "nested": {"list": null}, "table": {}, "any": 1}"#,
            #"{"flag": false, "ratio": 2, "small": -1, "mode": "fast", "nested": [], "table": {}, "any": 1}"#,
            #"{"flag": false, "ratio": 2, "small": 1, "mode": "fast", "nested": {"list": [1, "2"]}, "table": {"a": [true]}, "any": 1}"#,
            #"{"flag": null, "ratio": 2, "small": 1, "mode": "fast", "nested": {}, "table": {}, "any": 1}"#,
        ]
        for text in documents {
            let document = try JSONValue(parsing: text)
            #expect(outcome(of: BuiltinKinds.NoArgs.self, document) == foundationOutcome(of: BuiltinKinds.NoArgs.self, text), "\(text)")
            #expect(outcome(of: BuiltinKinds.SleepArgs.self, document) == foundationOutcome(of: BuiltinKinds.SleepArgs.self, text), "\(text)")
            #expect(outcome(of: BuiltinKinds.FlakyArgs.self, document) == foundationOutcome(of: BuiltinKinds.FlakyArgs.self, text), "\(text)")
            #expect(outcome(of: BuiltinKinds.ExecArgs.self, document) == foundationOutcome(of: BuiltinKinds.ExecArgs.self, text), "\(text)")
            #expect(outcome(of: Everything.self, document) == foundationOutcome(of: Everything.self, text), "\(text)")
            #expect(outcome(of: [Int8].self, document) == foundationOutcome(of: [Int8].self, text), "\(text)")
            #expect(outcome(of: JSONValue.self, document) == foundationOutcome(of: JSONValue.self, text), "\(text)")
        }
    }

    /// Every kind of value a job's arguments may hold.
    private struct Everything: Codable {
        enum Mode: String, Codable { case fast }
        struct Nested: Codable { var list: [Int]? }
        var flag: Bool
        var ratio: Double
        var small: UInt8
        var mode: Mode
        var nested: Nested
        var table: [String: [Int]]
        var any: JSONValue?
    }

    private func outcome<T: Codable>(of type: T.Type, _ document: JSONValue) -> String {
        describe { try document.decode(T.self) }
    }

    private func foundationOutcome<T: Codable>(of type: T.Type, _ text: String) -> String {
        describe { try JSONDecoder().decode(T.self, from: Data(text.utf8)) }
    }

    /// The value decoded, written back as JSON; or the error's case, path, type and message.
    private func describe<T: Codable>(_ decode: () throws -> T) -> String {
        let path = { (keys: [any CodingKey]) in keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(try decode()), as: UTF8.self)
        } catch DecodingError.keyNotFound(let key, let context) {
            return "keyNotFound \(key.stringValue) at \(path(context.codingPath))"
        } catch DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context) {
            // JSONDecoder calls a null Bool a mismatch and a null Int a missing value; users read the same message.
            return "mismatch \(type) at \(path(context.codingPath))"
        } catch DecodingError.dataCorrupted(let context) where context.debugDescription == "The given data was not valid JSON." {
            // What JSONDecoder says of a number that does not fit; the value decoder names the field.
            return "number out of range"
        } catch DecodingError.dataCorrupted(let context) where context.debugDescription.contains(" is out of range (") || context.debugDescription.hasSuffix(" is not a whole number") {
            return "number out of range"
        } catch DecodingError.dataCorrupted(let context) {
            return "dataCorrupted at \(path(context.codingPath)): \(context.debugDescription)"
        } catch {
            return "\(error)"
        }
    }
}
