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
        let options = options(of: command(namedIn: arguments, root: root)).filter { $0.hasPrefix("--") }
        // Compared without their dashes, which every one has: `--db` is no typo of `--to`.
        let names = options.sorted().map { String($0.dropFirst(2)) }
        return EditDistance.nearest(to: String(option.drop { $0 == "-" }), among: names).map { "--" + $0 }
    }

    /// The first word of `arguments` (before a `--`) written as an option that the command they
    /// name does not have. The parser reports a missing argument before an unknown option
    /// (`server create -x`), though the option is what was mistyped.
    static func unknownOption(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        let known = options(of: command(namedIn: arguments, root: root))
        return arguments.prefix { $0 != "--" }.lazy
            .filter { $0.count > 1 && $0.hasPrefix("-") }
            .map { String($0.prefix { $0 != "=" }) }
            .first { !known.contains($0) }
    }

    private static func command(namedIn arguments: [String], root: any ParsableCommand.Type) -> any ParsableCommand.Type {
        var command = root
        for argument in arguments where !argument.hasPrefix("-") {
            guard let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == argument }) else { break }
            command = next
        }
        return command
    }

    /// The option names that `command`'s help lists, long and short.
    private static func options(of command: any ParsableCommand.Type) -> Set<String> {
        let words = command.helpMessage().split { " \n,()[]<>=".contains($0) }.map(String.init)
        return Set(words.filter { $0.wholeMatch(of: #/--[a-z][a-z-]*|-[a-zA-Z]/#) != nil })
    }
}
