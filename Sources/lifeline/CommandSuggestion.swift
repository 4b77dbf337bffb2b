import Foundation
import ArgumentParser
import LifelineQueue

/// A word where a subcommand belongs that names none: said plainly, with the closest name,
/// instead of the parser's "unexpected arguments".
enum CommandSuggestion {
    /// The message for the first such word in `arguments`, or nil when every word fits.
    static func unknownCommand(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path: [String] = []
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-"), argument != "help" else { return nil }
            let names = subcommands.compactMap { $0.configuration.commandName }
            guard let next = subcommands.first(where: { $0.configuration.commandName == argument }) else {
                let prefix = (["lifeline"] + path).joined(separator: " ")
                if let question = EditDistance.didYouMean(argument, among: names) { return "unknown command '\(argument)'; \(question)" }
                return "unknown command '\(argument)'; \(prefix) has: \(names.joined(separator: ", "))"
            }
            command = next
            path.append(argument)
        }
        return nil
    }

    /// The message for a group of commands named without one of them (`lifeline jobs` alone),
    /// or nil when `command` is no group: a group does nothing by itself, so this is bad usage.
    static func missingCommand(_ command: any ParsableCommand.Type, in arguments: [String]) -> String? {
        let names = command.configuration.subcommands.compactMap { $0.configuration.commandName }
        guard !names.isEmpty else { return nil }
        let path = (["lifeline"] + arguments.filter { !$0.hasPrefix("-") }).joined(separator: " ")
        return "missing command; \(path) has: \(names.joined(separator: ", ")) (see \(path) --help)"
    }

    /// The option of the command that `arguments` name closest to `option`, e.g. `--version`
    /// for `--verison`.
    static func closestOption(to option: String, in arguments: [String], root: any ParsableCommand.Type) -> String? {
        let options = options(of: commandPath(in: arguments, root: root).command).filter { $0.hasPrefix("--") }
        // Compared without their dashes, which every one has: `--db` is no typo of `--to`.
        let names = options.sorted().map { String($0.dropFirst(2)) }
        let name = String(option.drop { $0 == "-" })
        // Named exactly, it is no typo (`--args`, though `--args-file` starts the same).
        if names.contains(name) { return "--" + name }
        return EditDistance.nearest(to: name, among: names).map { "--" + $0 }
    }

    /// Where `option`, which the command `arguments` name has, goes when it was given before
    /// that command's name (`lifeline --json jobs list`): the command line with it, and the
    /// value it had there, moved after the name.
    static func misplaced(_ option: String, in arguments: [String], root: any ParsableCommand.Type) -> String {
        let (command, path) = commandPath(in: arguments, root: root)
        // Given to a group of commands (`jobs --failed`), it is one of theirs: the first that has it.
        var owners: [String] = []
        for subcommand in command.configuration.subcommands where options(of: subcommand).contains(option) {
            owners.append(subcommand.configuration.commandName ?? "")
        }
        var rest = arguments
        var given = [option]
        if let index = rest.firstIndex(where: { $0 == option || $0.hasPrefix(option + "=") }) {
            // A value that came with it, unless it is the command's name.
            let withValue = rest[index] == option && index + 1 < rest.count && !rest[index + 1].hasPrefix("-") && !path.contains(rest[index + 1])
            let taken = index...(withValue ? index + 1 : index)
            given = Array(rest[taken])
            rest.removeSubrange(taken)
        }
        var end = 0
        for name in path {
            guard let at = rest[end...].firstIndex(of: name) else { break }
            end = at + 1
        }
        rest.insert(contentsOf: given, at: end)
        if let first = owners.first { rest.insert(first, at: end) }
        let line = "lifeline " + rest.map(Self.shellWord).joined(separator: " ")
        guard !owners.isEmpty else { return "'\(option)' goes after the command's name: \(line)" }
        let named: [String] = owners.map { (path + [$0]).joined(separator: " ") }
        let commands = named.count == 1 ? named[0] : named.dropLast().joined(separator: ", ") + " and " + (named.last ?? "")
        return "'\(option)' is an option of \(commands): \(line)"
    }

    /// `word` as a shell reads it back: quoted when it holds anything but plain characters.
    private static func shellWord(_ word: String) -> String {
        let plain = !word.isEmpty && word.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || "-_./=:,@%+".utf8.contains(byte)
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The first word of `arguments` (before a `--`) written as an option that the command they
    /// name does not have. The parser reports a missing argument before an unknown option
    /// (`server create -x`), though the option is what was mistyped.
    static func unknownOption(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        let known = options(of: commandPath(in: arguments, root: root).command)
        return arguments.prefix { $0 != "--" }.lazy
            .filter { $0.count > 1 && $0.hasPrefix("-") }
            .map { String($0.prefix { $0 != "=" }) }
            .first { !known.contains($0) }
    }

    /// The command `arguments` name, and the words that name it. Until a command without
    /// subcommands is reached, words that name none are passed over: the value of an option
    /// given before the command's name (`--limit 5 jobs list`, `jobs --state running list`).
    static func commandPath(in arguments: [String], root: any ParsableCommand.Type) -> (command: any ParsableCommand.Type, path: [String]) {
        var command = root
        var path: [String] = []
        for argument in arguments.prefix(while: { $0 != "--" }) where !argument.hasPrefix("-") {
            if let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == argument }) {
                command = next
                path.append(argument)
            } else if command.configuration.subcommands.isEmpty {
                break
            }
        }
        return (command, path)
    }

    /// Whether `option` of the command `arguments` name takes a value, as its help shows it
    /// (`--queue <queue>`), where a flag stands alone (`--json`).
    static func takesValue(_ option: String, in arguments: [String], root: any ParsableCommand.Type) -> Bool {
        commandPath(in: arguments, root: root).command.helpMessage(includeHidden: false, columns: 1000).contains("\(option) <")
    }

    /// The option names that `command`'s help lists, long and short.
    private static func options(of command: any ParsableCommand.Type) -> Set<String> {
        let words = command.helpMessage().split { " \n,()[]<>=".contains($0) }.map(String.init)
        return Set(words.filter { $0.wholeMatch(of: #/--[a-z][a-z-]*|-[a-zA-Z]/#) != nil })
    }
}
