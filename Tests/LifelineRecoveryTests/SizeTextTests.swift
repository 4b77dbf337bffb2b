import LifelineQueue
import LifelineRecovery
import Testing

struct SizeTextTests {
    @Test("sizes as people type them, leading zeros included", arguments: [
        ("64MiB", Int64(64) << 20), ("1GiB", 1 << 30), ("1000KB", 1_000_000), ("00000000000000000000064MiB", 64 << 20), ("16TiB", 1 << 44),
    ] as [(String, Int64)])
    func parsed(text: String, bytes: Int64) throws {
        #expect(try SizeText.parse(text) == bytes)
    }

    @Test("a size past 16TiB is too large however many digits it has; a size without a known unit is invalid", arguments: [
        ("17TiB", "size '17TiB' is too large: at most 16TiB"),
        ("99999999999999999999TiB", "size '99999999999999999999TiB' is too large: at most 16TiB"),
        ("9EiB", "size '9EiB' is too large: at most 16TiB"),
        ("64Mb", "invalid size '64Mb': use e.g. 64MiB, 1GiB"),
        ("MiB", "invalid size 'MiB': use e.g. 64MiB, 1GiB"),
    ])
    func refused(text: String, said: String) {
        let error = #expect(throws: JobInputError.self) { try SizeText.parse(text) }
        #expect(error?.description == said)
    }
}
