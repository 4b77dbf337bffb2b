import Synchronization

/// Damage to the store's file that a request ran into (a page that reads as corrupt), kept so
/// that `/healthz` says it from then on: a file damaged past its header answers the health
/// check's own small read from intact pages, or from SQLite's cache, for as long as no one
/// reads the damaged ones.
final class StoreDamage: Sendable {
    /// Whether an error says the store's file is damaged, which no retry mends.
    let isDamage: @Sendable (any Error) -> Bool
    private let seen = Mutex<String?>(nil)

    init(isDamage: @escaping @Sendable (any Error) -> Bool) {
        self.isDamage = isDamage
    }

    /// What was found, as a 503 said it; nil while nothing was.
    var found: String? { seen.withLock { $0 } }

    /// Keeps `description` if `error` is damage; the first found is kept.
    func note(_ error: any Error, described description: String) {
        guard isDamage(error) else { return }
        seen.withLock { $0 = $0 ?? description }
    }
}
