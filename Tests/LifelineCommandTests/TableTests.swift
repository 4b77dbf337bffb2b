import Testing

@testable import lifeline

struct TableTests {
    @Test("on a narrow terminal the widest other columns give way, cut with … but never below 10 characters, so the last keeps 24")
    func narrow() {
        let table = Table(
            headers: ["ID", "KIND", "QUEUE", "STATE", "SERVER", "LAST ERROR"],
            rows: [["1", "recovery.finalize", "recovery.disks", "discarded", "a-very-long-server-name", "cp exited with status 1: cp: cannot create regular file"]]
        )
        let lines = table.render(width: 80)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines)")
        #expect(lines[1].hasSuffix("cp exited with status 1…"), "\(lines[1])")
        #expect(lines[1].hasPrefix("1   recovery.f…  recovery.di…  discarded  a-very-long…  "), "\(lines[1])")
        // Wide enough, nothing is cut.
        #expect(table.render(width: 200)[1].hasSuffix("a-very-long-server-name  cp exited with status 1: cp: cannot create regular file"))
        #expect(table.render(width: nil) == table.render(width: 200))
    }
}
