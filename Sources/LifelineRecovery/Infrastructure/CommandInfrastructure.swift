import Foundation
import LifelineQueue
import Synchronization

/// Infrastructure run by the operator's programs: each stage runs the executable its config
/// names, without a shell. The program gets the ``StageRequest`` as JSON on stdin, may
/// write progress lines `{"done": N, "total": M, "detail": "…"}` and the recovery point it
/// used, `{"recovery_point": "rp-7"}`, on stdout, and its exit
/// status is the outcome: 0 succeeded; 3 failed for good (no retry); anything else failed
/// (retried with the stage's backoff). It is killed, with its process group, on timeout or
/// cancellation.
///
/// The config is JSON: `{"stages": {"finalize": ["/opt/dr/finalize", "--fast"], …},
/// "default": ["/opt/dr/stage"], "points": ["/opt/dr/points"]}`; a stage without an entry runs
/// `default` with the stage name in the request. `points`, if given, lists a machine's
/// recovery points: it gets `{"machine": M}` on stdin and prints one JSON object per line,
/// `{"id": "rp-7", "created_at": "2026-11-29T03:00:00Z", "bytes": 1073741824}`.
public struct CommandInfrastructure: Infrastructure {
    public struct Config: Codable, Sendable {
        public var stages: [String: [String]]?
        public var `default`: [String]?
        public var points: [String]?
    }

    /// The exit status that means "do not retry".
    public static let permanentFailureStatus: Int32 = 3

    let config: Config
    private let configPath: String

    public init(configPath: String) throws {
        self.configPath = configPath
        guard let data = FileManager.default.contents(atPath: configPath) else {
            // Why, and where it was looked for: the path comes from the home unless named.
            let reason = access(configPath, R_OK) == 0 ? "not a file" : String(cString: strerror(errno)).lowercased()
            throw JobInputError(
                "cannot read the stage commands config '\(configPath)': \(reason) (LIFELINE_INFRA=command reads it; LIFELINE_INFRA_COMMANDS names another)"
            )
        }
        // A misspelt key would otherwise run the default program for a stage, or none.
        let json: JSONValue
        do {
            json = try JSONValue(parsing: data)
        } catch {
            throw JobInputError("invalid stage commands config '\(configPath)': \(error)")
        }
        do {
            config = try json.decodeStrictly(Config.self)
        } catch {
            throw JobInputError("invalid stage commands config '\(configPath)': \(DecodingErrorText.describe(error, in: json, document: "the config"))")
        }
        for name in (config.stages ?? [:]).keys.sorted() where Stage(rawValue: name) == nil {
            let stages = Stage.allCases.map(\.rawValue)
            let near = EditDistance.didYouMean(name, among: stages).map { "; " + $0 } ?? ""
            throw JobInputError("stage commands config '\(configPath)' names no stage '\(name)' (stages: \(stages.joined(separator: ", ")))\(near)")
        }
        for stage in Stage.allCases where command(for: stage)?.first?.isEmpty ?? true {
            throw JobInputError("stage commands config '\(configPath)' has no program for stage '\(stage.rawValue)'")
        }
    }

    /// Refuses, at a worker's start, a stage program named by its path that is not there or
    /// cannot run: found when its stage ran, it would fail that stage for good. A bare name is
    /// looked up in PATH as it runs. The points program, which workers never run, and commands
    /// that only list points are not checked: they may run on a host without the stage programs.
    public func checkPrograms() throws {
        let programs = Stage.allCases.compactMap { stage in command(for: stage)?.first.map { ($0, "stage '\(stage.rawValue)'") } }
        for (program, use) in programs where program.contains("/") {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: program, isDirectory: &isDirectory)
            let why = !exists ? "does not exist" : isDirectory.boolValue ? "is a directory"
                : !FileManager.default.isExecutableFile(atPath: program) ? "is not executable" : nil
            if let why { throw JobInputError("stage commands config '\(configPath)': program '\(program)' for \(use) \(why)") }
        }
    }

    func command(for stage: Stage) -> [String]? {
        config.stages?[stage.rawValue] ?? config.default
    }

    public func perform(_ request: StageRequest, progress: @escaping @Sendable (StageProgress) -> Void) async throws -> JSONValue? {
        guard let argv = command(for: request.stage) else { throw PermanentStageFailure("no program for \(request.stage.rawValue)") }
        let input = try JSONEncoder().encode(request)
        let resolved = Mutex<String?>(nil)
        let process = ChildProcess(
            argv: argv, environment: ProgramEnvironment.inherited, directory: nil, input: input
        ) { line in
            if let update = try? JSONDecoder().decode(StageProgress.self, from: Data(line.utf8)) { progress(update) }
            if let used = try? JSONDecoder().decode(UsedPoint.self, from: Data(line.utf8)) { resolved.withLock { $0 = used.recoveryPoint } }
        }
        let exit: ChildProcess.Exit
        do {
            exit = try await process.run()
        } catch let error as ChildProcessError where error.isPermanent {
            throw PermanentStageFailure(error.description)
        }
        let tail = exit.quotedTail
        switch exit.termination {
        case .exited(0):
            var result: [String: JSONValue] = ["stdout": .string(exit.stdoutTail)]
            if let point = resolved.withLock({ $0 }) {
                // It is the server's from now on, shown and passed on as a point an action named.
                do {
                    try ServerNames.check(point, what: "recovery point")
                } catch {
                    throw PermanentStageFailure("\(argv[0]) said it used \(error.message)")
                }
                result["recovery_point"] = .string(point)
            }
            return .object(result)
        case .exited(Self.permanentFailureStatus):
            throw PermanentStageFailure("\(argv[0]) failed for good: \(tail)")
        case .exited(let status):
            throw StageCheckFailure(message: "\(argv[0]) exited with status \(status): \(tail)")
        case .signalled(let signal):
            throw StageCheckFailure(message: "\(argv[0]) was killed by signal \(signal)")
        }
    }

    /// A line a stage program prints to say which recovery point it used (the latest, when the
    /// action named none): the server's recovery point from then on.
    private struct UsedPoint: Decodable {
        var recoveryPoint: String

        enum CodingKeys: String, CodingKey {
            case recoveryPoint = "recovery_point"
        }
    }

    public func recoveryPoints(machine: String) async throws -> [RecoveryPoint]? {
        guard let argv = config.points, !argv.isEmpty else { return nil }
        let input = try JSONEncoder().encode(["machine": machine])
        let lines = Mutex<[String]>([])
        let exit = try await ChildProcess(argv: argv, environment: ProgramEnvironment.inherited, directory: nil, input: input) { line in
            lines.withLock { $0.append(line) }
        }.run()
        guard exit.termination == .exited(0) else {
            throw StageCheckFailure(message: "\(argv[0]) could not list recovery points: \(exit.stderr.quoted)")
        }
        return try lines.withLock { $0 }.filter { !$0.isEmpty }.map { try Self.recoveryPoint($0, printedBy: argv[0]) }
    }

    /// A line of the points program's, read as Lifeline reads times (with or without
    /// fractions of a second), or why it is no recovery point.
    private static func recoveryPoint(_ line: String, printedBy program: String) throws -> RecoveryPoint {
        let why: String
        do {
            let json = try JSONValue(parsing: Data(line.utf8))
            do {
                return try LifelineJSON.decoder().decode(RecoveryPoint.self, from: Data(line.utf8))
            } catch {
                why = DecodingErrorText.describe(error, in: json, document: "a recovery point")
            }
        } catch {
            why = "not JSON"
        }
        throw StageCheckFailure(message: "\(program) printed a line that is no recovery point (\(why)): \(line.prefix(120))")
    }
}
