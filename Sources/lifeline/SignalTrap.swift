import Dispatch
import Foundation

/// Turns SIGTERM, SIGINT and SIGHUP into a call, each time one arrives, instead of the
/// default of dying on the spot.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGTERM, SIGINT, SIGHUP].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// Ends the trap's calls (the signals stay ignored): a trap for part of a command.
    deinit {
        for source in sources { source.cancel() }
    }
}
