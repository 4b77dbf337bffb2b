import Foundation

extension BuiltinKinds {
    public struct ExecArgs: JobArgs {
        /// The program and its arguments; the program is looked up in PATH. No shell ever
        /// sees them.
        public var argv: [String]
        public var env: [String: String]?
        public var cwd: String?

        public func validate() throws(JobInputError) {
            guard let program = argv.first, !program.isEmpty else {
                throw JobInputError("invalid args for 'exec': argv needs at least a program name")
            }
            guard !(argv + (env.map { Array($0.keys) + Array($0.values) } ?? []) + [cwd ?? ""]).contains(where: { $0.contains("\0") }) else {
                throw JobInputError("invalid args for 'exec': strings must not contain NUL")
            }
            if cwd == "" { throw JobInputError("invalid args for 'exec': cwd is empty; leave it out to run in the worker's directory") }
            if let env, env.keys.contains(where: { $0.isEmpty || $0.contains("=") }) {
                throw JobInputError("invalid args for 'exec': env names must be non-empty and without '='")
            }
            // Linux refuses to start a program given a longer one (E2BIG): said now, not at
            // every attempt.
            let strings = argv.enumerated().map { ("argv[\($0.offset)]", $0.element) }
                + (env ?? [:]).sorted { $0.key < $1.key }.map { ("env.\($0.key)", "\($0.key)=\($0.value)") }
            if let (field, string) = strings.first(where: { $0.1.utf8.count > Self.longestString }) {
                throw JobInputError(
                    "invalid args for 'exec': field '\(field)' is \(string.utf8.count) bytes; a program takes at most \(Self.longestString) in one argument or variable (NAME=value); pass more in a file"
                )
            }
        }

        /// The longest argument or environment string Linux passes to a program (MAX_ARG_STRLEN,
        /// 32 pages of 4 KiB, with its NUL).
        static let longestString = 131_071
    }

    /// Runs a program without a shell; exit 0 = success. The tail of its output goes in the
    /// result, or in the error when it fails.
    public static let exec = JobDefinition(kind: "exec", args: ExecArgs.self) { args, context in
        // The worker's environment, with the job's variables on top, and which attempt of which
        // job this is: a program that acts where others may (after a freeze, a rerun can start
        // beside it) fences its writes with them.
        let attempt = ["LIFELINE_JOB_ID": "\(context.job.id)", "LIFELINE_JOB_ATTEMPT": "\(context.job.attempt)"]
        let environment = ProgramEnvironment.inherited.merging(args.env ?? [:]) { $1 }.merging(attempt) { $1 }
        let exit: ChildProcess.Exit
        do {
            exit = try await ChildProcess(argv: args.argv, environment: environment, directory: args.cwd).run()
        } catch let error as ChildProcessError where error.isPermanent {
            throw JobFailure.permanent(error.description)
        }
        guard exit.termination == .exited(0) else {
            let how = switch exit.termination {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
            let tail = exit.quotedTail
            throw ExecFailure(message: "\(args.argv[0]) \(how)" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        return .object(["exit_status": .int(0), "stdout": .string(exit.stdoutTail), "stderr": .string(exit.stderrTail)])
    }

    struct ExecFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
