import ArgumentParser

/// An option that takes one value, given twice, is refused: the parser would keep the last
/// and drop the first without a word (`jobs list --queue a --queue b` lists b's jobs only),
/// though the options that add up (`--state`) lead one to expect them all.
enum OptionRepeats {
    static func check(_ arguments: [String], root: any ParsableCommand.Type) throws {
        let names = arguments.prefix { $0 != "--" }.filter { $0.hasPrefix("--") }.map { $0.split(separator: "=", maxSplits: 1)[0] }
        // A short list, looked through by hand: a set's first use in a process has the runtime
        // scan its conformance records, a tenth of a one-job enqueue's start.
        var repeated: [Substring] = []
        for (index, name) in names.enumerated() where names[..<index].contains(name) && !repeated.contains(name) { repeated.append(name) }
        // The commonest command lines repeat nothing: the command's help, which the parser
        // builds by reflection, is asked for only when one does.
        guard !repeated.isEmpty else { return }
        let help = CommandSuggestion.commandPath(in: arguments, root: root).command.helpMessage(includeHidden: false, columns: 1000)
        // The synopsis marks the options that add up (`[--state <state> ...]`); one that lists
        // no options (`enqueue [<options>]`) has none that do.
        let usage = help.split(separator: "\n").first { $0.hasPrefix("USAGE:") } ?? ""
        func addsUp(_ name: Substring) -> Bool {
            guard let option = usage.range(of: "\(name) <"), let end = usage[option.upperBound...].firstIndex(of: ">") else { return false }
            return usage[usage.index(after: end)...].hasPrefix(" ...")
        }
        // A flag given twice asks for the same thing twice.
        guard let single = repeated.first(where: { help.contains("\($0) <") && !addsUp($0) }) else { return }
        let count = names.filter { $0 == single }.count
        throw CLIFailure(.invalidInput, "\(single) is given \(count) times: it takes one value (see --help)")
    }
}
