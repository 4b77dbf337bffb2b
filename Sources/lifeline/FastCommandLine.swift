/// One command's line read without swift-argument-parser, whose reflection of the commands'
/// properties is most of a short command's start (the Swift runtime scans the binary's ten
/// thousand protocol conformance records for each new type it is asked about; even creating
/// the parser's option wrappers costs such a scan), into the command's plain options.
///
/// It takes only invocations it fully understands: the command's name, then options and
/// flags by their long names, each at most once, the one word the command may take, and
/// values that parse and pass the command's validation. Anything else (help, an unknown or
/// repeated name, a missing value, flags that conflict) returns nil and goes to the parser, which reports it as it always has; what it does take,
/// it reads exactly as the parser would (tests compare the two over thousands of generated
/// command lines). An option added to a command goes to the parser until it is listed here.
struct FastCommandLine<Options>: Sendable {
    /// An option's long name; whether its value may start with a dash (the parser's
    /// `.unconditional`); and its setter, false when the value does not parse.
    struct Option: Sendable {
        var name: String
        var takesDashes = false
        var set: @Sendable (inout Options, String) -> Bool
    }

    /// A flag's long name and what it sets.
    struct Flag: Sendable {
        var name: String
        var set: @Sendable (inout Options) -> Void
    }

    var command: String
    var options: [Option]
    var flags: [Flag]
    /// What the one word that is not an option sets, for a command that takes one, which it
    /// then needs.
    var word: (@Sendable (inout Options, String) -> Void)?
    /// The command's own checks of its options, which the parser makes after reading them.
    var validate: @Sendable (Options) throws -> Void

    /// The options `arguments` (without the program's name) give, on top of `defaults`, when
    /// they are this command's and this reader fully understands them. Lists, not
    /// dictionaries: each generic type the start instantiates costs a scan of the
    /// conformance records. So too the options' own type appears only in closures and here:
    /// stored in the reader, `defaults` made a one-job enqueue compute the reader's layout at
    /// run time (26,000 more instructions, by callgrind), and a protocol for `validate` found
    /// its conformance by a scan (416,000 more, a sixth of the enqueue).
    func read(_ arguments: [String], onto defaults: Options) -> Options? {
        guard arguments.first == command else { return nil }
        // The parser refuses these words wherever they stand, values included.
        guard !arguments.contains(where: { $0.hasPrefix("---") || $0.hasPrefix("-=") || $0.hasPrefix("--=") }) else { return nil }
        var givenWord: String?
        var flagsGiven = [Bool](repeating: false, count: flags.count)
        var values = [String?](repeating: nil, count: options.count)
        var rest = arguments.dropFirst()
        while let token = rest.popFirst() {
            guard token.hasPrefix("-") else {
                guard word != nil, givenWord == nil else { return nil }
                givenWord = token
                continue
            }
            if let flag = flags.firstIndex(where: { $0.name == token }) {
                guard !flagsGiven[flag] else { return nil }
                flagsGiven[flag] = true
                continue
            }
            var name = token
            var value: String?
            if let equals = token.firstIndex(of: "=") {
                name = String(token[..<equals])
                value = String(token[token.index(after: equals)...])
                guard value != "" else { return nil }
            }
            guard let index = options.firstIndex(where: { $0.name == name }), values[index] == nil else { return nil }
            if value == nil {
                // "--" ends the options for the parser, wherever it stands.
                guard let next = rest.popFirst(), next != "--", options[index].takesDashes || !next.hasPrefix("-") else { return nil }
                value = next
            }
            values[index] = value
        }
        var result = defaults
        if let word {
            guard let givenWord else { return nil }
            word(&result, givenWord)
        }
        for (flag, given) in zip(flags, flagsGiven) where given { flag.set(&result) }
        for (option, value) in zip(options, values) {
            guard let value else { continue }
            guard option.set(&result, value) else { return nil }
        }
        guard (try? validate(result)) != nil else { return nil }
        return result
    }
}

extension FastCommandLine.Option {
    static func text(_ name: String, takesDashes: Bool = false, _ set: @escaping @Sendable (inout Options, String) -> Void) -> Self {
        Self(name: name, takesDashes: takesDashes) { options, value in
            set(&options, value)
            return true
        }
    }

    static func number(_ name: String, takesDashes: Bool = false, _ set: @escaping @Sendable (inout Options, Int) -> Void) -> Self {
        Self(name: name, takesDashes: takesDashes) { options, value in
            guard let number = Int(value) else { return false }
            set(&options, number)
            return true
        }
    }

    /// `--db`: an empty one goes to the parser, which refuses it.
    static func db(_ set: @escaping @Sendable (inout Options, String) -> Void) -> Self {
        Self(name: "--db") { options, value in
            set(&options, value)
            return !value.isEmpty
        }
    }
}
