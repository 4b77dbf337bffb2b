import Testing

@testable import lifeline

struct TableTests {
    let table = Table(
        headers: ["ID", "KIND", "QUEUE", "STATE", "SERVER", "LAST ERROR"],
        rows: [["1", "recovery.finalize", "recovery.disks", "finalization_failed", "a-very-long-server-name", "cp exited with status 1: cp: cannot create regular file"]],
        narrowable: [1, 2, 4]
    )

    @Test("on a narrow terminal the widest narrowable columns give way, cut at their start with … but never below 10 characters, so the last keeps up to 24")
    func narrow() {
        let lines = table.render(width: 80)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines)")
        #expect(lines[1].hasSuffix("  cp exited with sta…") && lines[1].count == 80, "\(lines[1])")
        // The state is never cut; names are cut at their start, where names alike differ.
        #expect(lines[1].hasPrefix("1   ….finalize  …ery.disks  finalization_failed  …rver-name  "), "\(lines[1])")
        // Wide enough, nothing is cut.
        #expect(table.render(width: 200)[1].hasSuffix("a-very-long-server-name  cp exited with status 1: cp: cannot create regular file"))
        #expect(table.render(width: nil) == table.render(width: 200))
    }

    @Test("an empty last column takes no room from the others; a table that names no narrowable column is only cut at its end")
    func nothingToMakeRoomFor() {
        var empty = table
        empty.rows[0][5] = ""
        #expect(empty.render(width: 80)[1].hasPrefix("1   recovery.finalize  recovery.disks  finalization_failed  …-long-server-name"), "\(empty.render(width: 80))")
        var fixed = table
        fixed.narrowable = []
        #expect(fixed.render(width: 80)[1].hasPrefix("1   recovery.finalize  recovery.disks  finalization_failed  a-very-long-s"))
    }
}
