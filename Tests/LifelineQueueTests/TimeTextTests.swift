import Foundation
import LifelineQueue
import Testing

@Suite("Times as text")
struct TimeTextTests {
    @Test("a time written, read back and written again is the same, to the millisecond")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let ms = Int64.random(in: 0...4_102_444_800_000, using: &generator)
            let text = LifelineJSON.formatTime(Date(ms: ms))
            let read = try #require(LifelineJSON.parseTime(text))
            #expect(read.ms == ms && Date(ms: ms).ms == ms, "\(text)")
            #expect(LifelineJSON.formatTime(read) == text, "\(ms) drifted: \(text) → \(LifelineJSON.formatTime(read))")
        }
        #expect(LifelineJSON.formatTime(Date(ms: 1_764_454_321_007)) == "2025-11-29T22:12:01.007Z")
        #expect(LifelineJSON.formatTime(Date(ms: -1)) == "1969-12-31T23:59:59.999Z")
    }
}
