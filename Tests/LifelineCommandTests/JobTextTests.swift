import LifelineQueue
import Testing

@testable import lifeline

struct JobTextTests {
    @Test("a count and its ids in one line: runs of three or more as ranges, in order, and at most 20 of them", arguments: [
        ([], "0 jobs"),
        ([5], "1 job: 5"),
        ([8, 7], "2 jobs: 7 8"),
        ([9, 1, 2, 3, 5, 6, 10, 11], "8 jobs: 1-3 5 6 9-11"),
        ([Int64.max - 2, Int64.max, Int64.max - 1], "3 jobs: \(Int64.max - 2)-\(Int64.max)"),
        (Array(stride(from: 1, through: 61, by: 2)), "31 jobs: " + stride(from: 1, through: 39, by: 2).map(String.init).joined(separator: " ") + " … (--json lists every one)"),
        (Array(1...100_000), "100000 jobs: 1-100000"),
    ] as [([Int64], String)])
    func counted(ids: [Int64], said: String) {
        #expect(JobText.counted(ids) == said)
    }

    @Test("a table's time in its two largest units", arguments: [
        (0.4, "0s"), (45.9, "45s"), (61, "1m1s"), (7530, "2h5m"), (86_400 * 1121 + 3600 * 17 + 23 * 60 + 58, "1121d17h"), (86_400, "1d"),
    ] as [(Double, String)])
    func roughly(seconds: Double, said: String) {
        #expect(JobText.roughly(seconds) == said)
    }

    @Test("a time to come is never said sooner than it is", arguments: [
        (0.4, "1s"), (45.0, "45s"), (61.5, "1m2s"), (86_400 + 3600 * 23 + 59 * 60, "2d"), (7530, "2h6m"),
    ] as [(Double, String)])
    func roughlyUp(seconds: Double, said: String) {
        #expect(JobText.roughly(seconds, up: true) == said)
    }

    @Test("jobs show says a progress of done of total as a share, with its detail; any other progress as its JSON")
    func progress() {
        #expect(JobsShowCommand.progressText(["done": 536_870_912, "total": 1_073_741_824, "detail": "disk-1.img"]) == "50% (536870912 of 1073741824): disk-1.img")
        #expect(JobsShowCommand.progressText(["done": 3, "total": 4]) == "75% (3 of 4)")
        #expect(JobsShowCommand.progressText(["step": "copy"]) == #"{"step":"copy"}"#)
    }
}
