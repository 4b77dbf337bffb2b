import Testing

@testable import LifelineQueue

@Suite("Job ids in log lines")
struct LoggedIDsTests {
    @Test("in order, eight at most, then how many in all, without a space")
    func shown() {
        #expect(LoggedIDs.text([3, 1, 2]) == "1,2,3")
        #expect(LoggedIDs.text(Array((1...8).reversed())) == "1,2,3,4,5,6,7,8")
        #expect(LoggedIDs.text(Array(41...80).shuffled()) == "41,42,43,44,45,46,47,48,…(40)")
    }
}
