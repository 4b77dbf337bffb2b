import LifelineQueue
import PropertyBased
import Testing

@Suite("Backoff")
struct BackoffTests {
    @Test("delays stay within [(1 - jitter) · min(cap, base · 2^(n-1)), min(cap, base · 2^(n-1))]")
    func bounds() async {
        await propertyCheck(
            count: 500, input: Gen.int(in: 0...60_000), Gen.int(in: 0...200_000), Gen.double(in: 0...1),
            Gen.int(in: 1...200), Gen.double(in: 0..<1)
        ) { baseMs, capMs, jitter, attempt, unit in
            let backoff = Backoff(base: .milliseconds(baseMs), cap: .milliseconds(capMs), jitter: jitter)
            let delay = backoff.delay(afterAttempt: attempt, unit: unit).milliseconds
            let cap = max(capMs, baseMs)
            let full = min(Double(cap), Double(baseMs) * Double.pow2(attempt - 1))
            #expect(delay >= 0 && delay <= Int64(cap))
            #expect(Double(delay) >= (full * (1 - jitter)).rounded(.down) - 1)
            #expect(Double(delay) <= full + 1)
        }
    }

    @Test("delays grow with attempts until the cap")
    func grows() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(60), jitter: 0)
        let delays = (1...8).map { backoff.delay(afterAttempt: $0, unit: 0).milliseconds }
        #expect(delays == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
    }
}

extension Double {
    static func pow2(_ exponent: Int) -> Double {
        exponent >= 64 ? .greatestFiniteMagnitude : Double(sign: .plus, exponent: exponent, significand: 1)
    }
}
