import LifelineQueue
import LifelineRecovery

/// Colour for people: only on a terminal, never with NO_COLOR, never in JSON or pipes.
struct Style {
    let enabled: Bool

    init(_ output: Output) {
        enabled = output.usesColor
    }

    func state(_ text: String) -> String {
        guard enabled else { return text }
        let code: String? = switch JobState(rawValue: text) {
        case .completed: "32"
        case .discarded: "31"
        case .running: "36"
        case .retryable: "33"
        case .cancelled: "2"
        default: ServerState(rawValue: text).map { $0.isResting ? "1" : "36" }
        }
        return code.map { "\u{1B}[\($0)m\(text)\u{1B}[0m" } ?? text
    }
}
