import Foundation
import Synchronization

/// What a wait says when SIGINT, SIGTERM or SIGHUP ends it: one trap for the whole command,
/// set up at the first wait, saying what the latest wait was for. Only the wait ends, and what
/// it waited for goes on: exit 130, as a shell reports Ctrl-C, at once (`_exit`): a wait has
/// nothing to flush, and exit handlers run beside its other threads could wait on them for ever.
enum WaitInterrupt {
    private struct Said {
        var text: String
        var clearing: @Sendable () -> Void
    }

    private static let said = Mutex<Said?>(nil)
    private static let trap = Mutex<SignalTrap?>(nil)

    /// From now on, ends the command saying `interrupted`, after `clearing` the terminal's line.
    static func say(_ interrupted: String, clearing: @escaping @Sendable () -> Void = {}) {
        said.withLock { $0 = Said(text: interrupted, clearing: clearing) }
        trap.withLock { trap in
            guard trap == nil else { return }
            trap = SignalTrap {
                guard let said = Self.said.withLock({ $0 }) else { return }
                said.clearing()
                Output.standardError.writeLine("lifeline: interrupted; \(said.text)")
                _exit(130)
            }
        }
    }
}
