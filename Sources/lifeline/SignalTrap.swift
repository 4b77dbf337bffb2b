import Dispatch
import Foundation

/// Turns SIGTERM, SIGINT and SIGHUP into a call, each time one arrives, instead of the
/// default of dying on the spot. Its sources are set once, at its start (hence Sendable).
final class SignalTrap: @unchecked Sendable {
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
}
